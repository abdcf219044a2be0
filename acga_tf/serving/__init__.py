"""Serving: the TF Serving export (`acga_tf.serving.export`) and the request helpers (`acga_tf.serving.client`:
gRPC `PredictRequest`s, REST bodies, `LocalServer`), which load no model code (docs/serving.md)."""

from acga_tf.serving.client import (
                                    DEFAULT_SIGNATURE,
                                    DESCRIBE_SIGNATURE,
                                    ENCODED_SIGNATURE,
                                    MULTI_QUERY_SIGNATURE,
                                    PNG_SIGNATURE,
                                    SIGNATURES,
                                    GrpcClient,
                                    LocalServer,
                                    RestClient,
                                    ServiceUnavailable,
                                    encode_png,
                                    parse_rest_body,
                                    predict_request,
                                    request_inputs,
                                    response_outputs,
                                    rest_body,
)

__all__ = ["DEFAULT_SIGNATURE", "DESCRIBE_SIGNATURE", "ENCODED_SIGNATURE", "MULTI_QUERY_SIGNATURE", "PNG_SIGNATURE",
           "SIGNATURES", "GrpcClient", "LocalServer", "RestClient", "ServiceUnavailable", "encode_png",
           "parse_rest_body", "predict_request", "request_inputs", "response_outputs", "rest_body"]
