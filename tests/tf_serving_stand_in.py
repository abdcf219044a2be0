"""A test double of TensorFlow Serving's REST API: a stdlib `http.server` in a thread, answering

    POST /v1/models/<name>[/versions/<n>]:predict   {"signature_name"?, "inputs" | "instances"}
    GET  /v1/models/<name>                          the model's status
    GET  /v1/models/<name>/metadata                 its signatures (names, input and output dtypes)

over an exported SavedModel loaded with `tf.saved_model.load` (`acga_tf.serving.LocalServer`, which parses the
bodies the way TF Serving documents them). A bad request gets HTTP 400 with `{"error": message}`, an unknown model
404, as TF Serving answers. The real `tensorflow/serving` container is not run by the tests.

    with TFServingStandIn(export_dir, "acga") as server:   # server.url = http://127.0.0.1:PORT/v1/models/acga
        ...

A version other than the served one (the export folder's name, `/versions/7`) is answered 404, as TF Serving
answers a version it has not loaded.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading

from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from acga_tf.serving.client import LocalServer

PREDICT = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/[^/:]+)?:predict$")
STATUS = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<metadata>/metadata)?$")


def signature_defs(export_dir: str) -> dict:
    """The SavedModel's SignatureDef protos by name, as TF Serving reads them from `saved_model.pb` (with TensorFlow's
    own `__saved_model_init_op`)."""
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(str(export_dir), "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    return dict(saved.meta_graphs[0].signature_def)


class TFServingStandIn:
    """Serves one SavedModel under `name` on 127.0.0.1 (a free port) while the context is open.

    Attributes:
        requests: the number of predict requests answered (good or bad).
    """

    def __init__(self, export_dir: str, name: str = "acga"):
        self.server_model, self.name, self.requests = LocalServer(str(export_dir)), name, 0
        folder = os.path.basename(os.path.normpath(str(export_dir)))
        self.version = folder if folder.isdigit() else "1"
        self.signature_defs = signature_defs(export_dir)
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.1, as TF Serving: it answers curl's `Expect: 100-continue` (with HTTP/1.0, curl waited 1 s
            # before sending each body over 1 MB: a REST client developer's)
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 (http.server's naming)
                match = PREDICT.match(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not stand_in.serves(match):
                    return self._send(404, {"error": f"Servable not found for request: {self.path}"})
                stand_in.requests += 1
                answer = stand_in.server_model.predict_json(body)
                self._send(400 if "error" in answer else 200, answer)

            def do_GET(self):  # noqa: N802
                match = STATUS.match(self.path)
                if not stand_in.serves(match):
                    return self._send(404, {"error": f"Servable not found for request: {self.path}"})
                if match["metadata"]:
                    return self._send(200, stand_in.metadata())
                self._send(200, {"model_version_status": [{"version": stand_in.version, "state": "AVAILABLE",
                                                           "status": {"error_code": "OK", "error_message": ""}}]})

            def log_message(self, *args):  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads, self.httpd.block_on_close = True, False  # a kept-alive connection ends with it
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/models/{name}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serves(self, match) -> bool:
        """Whether a request path's `match` names this model (and, where it names one, its version)."""
        return bool(match) and match["name"] == self.name and match["version"] in (None, self.version)

    def metadata(self) -> dict:
        """`GET .../metadata` as TF Serving answers it: the SignatureDef protos in protobuf's JSON mapping with the
        protos' own field names and every field printed (`tensor_shape`, `method_name`: http_rest_api_util.cc's
        options; camelCase here misled a REST client developer)."""
        signatures = {name: json_format.MessageToDict(proto, preserving_proto_field_name=True,
                                                      always_print_fields_with_no_presence=True)
                      for name, proto in self.signature_defs.items()}
        return {"model_spec": {"name": self.name, "signature_name": "", "version": self.version},
                "metadata": {"signature_def": {"signature_def": signatures}}}

    def __enter__(self) -> "TFServingStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class GrpcStandIn:
    """TensorFlow Serving's gRPC `PredictionService` (`Predict`, `GetModelMetadata` with the SavedModel's own
    SignatureDefs) over one SavedModel on 127.0.0.1 (a free port) while the context is open; a bad request is
    aborted with `INVALID_ARGUMENT` and the graph's message, an unknown model with `NOT_FOUND`, as TF Serving does.

        with GrpcStandIn(export_dir, "acga") as server:   # server.url = grpc://127.0.0.1:PORT/acga
            ...
    """

    def __init__(self, export_dir: str, name: str = "acga"):
        from concurrent import futures

        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

        model, self.name, self.requests = LocalServer(str(export_dir)), name, 0
        self.signature_defs = signature_defs(export_dir)
        stand_in = self

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def _check_name(self, request, context):
                if request.model_spec.name != stand_in.name:
                    context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request.model_spec}")

            def Predict(self, request, context):  # noqa: N802 (gRPC's naming)
                self._check_name(request, context)
                stand_in.requests += 1
                try:
                    return model.predict(request)
                except tf.errors.InvalidArgumentError as e:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)

            def GetModelMetadata(self, request, context):  # noqa: N802
                self._check_name(request, context)
                signatures = get_model_metadata_pb2.SignatureDefMap()
                for key, value in stand_in.signature_defs.items():
                    signatures.signature_def[key].CopyFrom(value)
                response = get_model_metadata_pb2.GetModelMetadataResponse()
                response.model_spec.name = stand_in.name
                response.metadata["signature_def"].Pack(signatures)
                return response

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.url = f"grpc://127.0.0.1:{port}/{name}"

    def __enter__(self) -> "GrpcStandIn":
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(grace=None)
