"""Requests and responses for an exported ACGA SavedModel, as TF Serving exchanges them (docs/evaluation.md#protocol
outputs).

- gRPC: `predict_request` builds a `tensorflow_serving.apis.predict_pb2.PredictRequest`, `request_inputs` decodes
  one (`tf.make_ndarray`) and `predict_response` wraps a signature's outputs.
- REST: `rest_body` writes the JSON body of `POST /v1/models/<name>:predict` (columnar `"inputs"`), and
  `parse_rest_body` reads one the way TF Serving's REST API does (columnar `"inputs"` or row `"instances"`,
  `{"b64": ...}` strings, values converted to the signature's dtypes).
- `RestClient` sends REST predict requests to a running server (`http://host:8501/v1/models/NAME`), `GrpcClient`
  gRPC ones (`grpc://host:8500/NAME`).
- `LocalServer` answers both kinds of requests from a SavedModel directory in-process: handy to try a request
  before deploying to the `tensorflow/serving` container, and what the export tests use.

Only this module's gRPC helpers need the optional `tensorflow-serving-api` (the [serving] extra: README Install).
Nothing here imports the model code: a SavedModel answers requests with TensorFlow alone.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping

import numpy as np
import tensorflow as tf
from PIL import Image

from acga_tf.ops import files
from acga_tf.ops.errors import error_message
from acga_tf.ops.extras import install_hint

DEFAULT_SIGNATURE = "serving_default"
MULTI_QUERY_SIGNATURE = "segment_queries"
ENCODED_SIGNATURE = "segment_encoded"
PNG_SIGNATURE = "segment_encoded_png"
DESCRIBE_SIGNATURE = "describe_queries"
SIGNATURES = (DEFAULT_SIGNATURE, MULTI_QUERY_SIGNATURE, ENCODED_SIGNATURE, PNG_SIGNATURE, DESCRIBE_SIGNATURE)
# TF Serving's REST API writes a string output whose name ends so as `{"b64": ...}` (json_tensor.cc's
# kBytesTensorNameSuffix); others as JSON strings.
BYTES_SUFFIX = "_bytes"
# gRPC statuses of a server that failed for now, as HTTP's 5xx (a request it refused is INVALID_ARGUMENT)
RETRYABLE_GRPC = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL")


class ServiceUnavailable(OSError):
    """The model server could not be reached, gave no complete answer in time, broke off its answer, or failed
    (HTTP 5xx: 503 while a version loads; gRPC UNAVAILABLE, DEADLINE_EXCEEDED, ...): the same request may succeed
    when sent again. `acga` exits with status 69 (sysexits' EX_UNAVAILABLE) for it, and with 2 for a request the
    server refused or a model it does not serve (docs/serving.md#errors)."""


def import_serving_apis():
    """Returns the `tensorflow_serving.apis` modules `(predict_pb2, prediction_log_pb2, model_pb2)`.

    Raises:
        ImportError: tensorflow-serving-api is not installed (the message says how to install it).
    """
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as e:
        raise ImportError(f"TF Serving request protos need the optional tensorflow-serving-api package "
                          f"({e}); install it with: {install_hint('serving')}") from None
    return predict_pb2, prediction_log_pb2, model_pb2


# === gRPC (PredictRequest / PredictResponse protos) ===
def predict_request(inputs: Mapping[str, Any], signature_name: str = DEFAULT_SIGNATURE, model_name: str = "acga"):
    """A `PredictRequest` proto for TF Serving's gRPC `PredictionService.Predict`.

    Args:
        inputs: input name → array-like (e.g. `{"video": uint8 (B, T, H, W, 3), "query": [b"...", ...]}`); each is
            turned into a `TensorProto` with `tf.make_tensor_proto` (keep uint8 videos uint8).
        signature_name: one of `SIGNATURES` (docs/serving.md#signatures).
        model_name: the model's name on the server (`MODEL_NAME` of the container).

    Returns:
        `tensorflow_serving.apis.predict_pb2.PredictRequest`.

    Raises:
        ImportError: tensorflow-serving-api is missing.
    """
    predict_pb2, _, _ = import_serving_apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def request_inputs(request) -> dict[str, np.ndarray]:
    """The inputs of a `PredictRequest` as NumPy arrays (`tf.make_ndarray`, as the server decodes them)."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def predict_response(outputs: Mapping[str, Any], request=None):
    """A `PredictResponse` proto holding `outputs` (name → tensor), echoing the request's model spec.

    Raises:
        ImportError: tensorflow-serving-api is missing.
    """
    predict_pb2, _, _ = import_serving_apis()
    response = predict_pb2.PredictResponse()
    if request is not None:
        response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return response


def response_outputs(response) -> dict[str, np.ndarray]:
    """The outputs of a `PredictResponse` as NumPy arrays."""
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def encode_png(frame: np.ndarray) -> bytes:
    """A uint8 (H, W, 3) frame as PNG bytes (lossless, so `segment_encoded` sees the same pixels), compressed at
    zlib level 1. On 640 × 360 frames here, against Pillow's default level 6: 5.2 ms and 60.7 kB against 9.0 ms and
    51.5 kB (a test pattern), 19.8 ms and 419 kB against 49.8 ms and 363 kB (with camera-like noise)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(frame, np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# === REST (JSON bodies) ===
def _json_string(value: Any) -> Any:
    """A string for JSON: text as is, bytes as UTF-8 text, or as TF Serving's `{"b64": ...}` when they are not
    UTF-8 (an encoded image)."""
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return _b64(value)


def _b64(value: Any) -> dict[str, str]:
    return {"b64": base64.b64encode(value if isinstance(value, bytes) else str(value).encode("utf-8")).decode("ascii")}


def _to_json(value: Any, as_bytes: bool = False) -> Any:
    """An array as JSON values; strings as `_json_string` gives them, or all as `{"b64": ...}` where `as_bytes`."""
    array = np.asarray(value)
    if array.dtype.kind in "SUO":  # strings
        return np.vectorize(_b64 if as_bytes else _json_string, otypes=[object])(array).tolist()
    return array.tolist()


def _from_json(value: Any) -> Any:
    """JSON values as written by `_to_json(..., as_bytes=True)`: each `{"b64": ...}` → bytes (nested lists kept).

    Raises:
        ValueError: a value that is not such an object, or not base64.
    """
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not (isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)):
        raise ValueError(f"expected {{'b64': ...}}, got {str(value)[:80]}")
    return b64decode_as_tf_serving(value["b64"])


def rest_body(inputs: Mapping[str, Any], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, Any]:
    """The JSON body of TF Serving's REST predict API in the columnar format.

    Returns:
        `{"signature_name": ..., "inputs": {name: nested lists}}` (`json.dumps` it for `POST
        /v1/models/<name>:predict`).
    """
    return {"signature_name": signature_name, "inputs": {k: _to_json(v) for k, v in inputs.items()}}


def b64decode_as_tf_serving(text: str) -> bytes:
    """Standard base64 read as TF Serving reads it (absl's `Base64Unescape`): whitespace skipped (GNU `base64`'s line
    breaks every 76 characters), the '=' (or '.') padding optional; URL-safe base64's - and _ refused.

    Raises:
        ValueError: not such base64.
    """
    text = re.sub(r"\s", "", text).replace(".", "=")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1 or len(text) - len(stripped) > 2:
        raise ValueError("not base64")
    return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)


def invalid_argument(message: str) -> tf.errors.InvalidArgumentError:
    """The error TF Serving answers a bad request with (INVALID_ARGUMENT), carrying `message`."""
    return tf.errors.InvalidArgumentError(None, None, message)


def _decode_strings(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise invalid_argument(f"input {name!r}: expected a string or {{'b64': ...}} object, got keys "
                                   f"{sorted(value)}")
        if not isinstance(value["b64"], str):
            raise invalid_argument(f"input {name!r}: a 'b64' value must be a base64 string, got "
                                   f"{type(value['b64']).__name__}")
        try:  # (else a web client's URL-safe text drops the connection)
            return b64decode_as_tf_serving(value["b64"])
        except ValueError:
            raise invalid_argument(f"input {name!r}: a 'b64' value is not standard base64 (the alphabet A-Z a-z 0-9 + "
                                   "/, '=' padding optional; not URL-safe base64's - and _)") from None
    if isinstance(value, list):
        return [_decode_strings(v, name) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    raise invalid_argument(f"input {name!r}: expected a string, got {type(value).__name__} {value!r}")


# The most dimensions of a string input: TensorFlow's conversion of a NumPy string array of more ends the process
# (a segmentation fault, TF 2.21; a REST body of 130 bytes, lists 33 deep, did so). No signature takes more than 5.
MAX_STRING_RANK = 32


def string_array(value: Any, name: str) -> np.ndarray:
    """`value` (nested lists of bytes or str, or an array of them) as an object array TensorFlow can convert.

    Raises:
        tf.errors.InvalidArgumentError: nested lists of different lengths (NumPy made an array of lists of them,
            which TensorFlow refuses with a message naming no input), or more than `MAX_STRING_RANK` dimensions.
    """
    array = np.array(value, dtype=object)
    if array.ndim > MAX_STRING_RANK:
        raise invalid_argument(f"input {name!r}: strings nested {array.ndim} deep; a signature's inputs have at most "
                               "5 dimensions")
    if any(isinstance(item, (list, tuple, np.ndarray)) for item in array.flat):
        raise invalid_argument(f"input {name!r}: not a rectangular array of strings: its nested lists differ in "
                               "length")
    return array


def json_to_array(value: Any, dtype: tf.dtypes.DType, name: str) -> np.ndarray:
    """Converts one JSON value to an array of the signature's `dtype`, as TF Serving's REST API does.

    Strings may be `{"b64": ...}` objects. Integer inputs reject decimals (3.0 too), true/false and out-of-range
    numbers, as TF Serving does.

    Raises:
        tf.errors.InvalidArgumentError: the value cannot be read as `dtype` (the message names the input).
    """
    if dtype == tf.string:
        return string_array(_decode_strings(value, name), name)
    try:
        array = np.array(value)
    except ValueError as e:  # ragged nested lists
        raise invalid_argument(f"input {name!r}: not a rectangular array: its nested lists differ in length (frames "
                               f"of different sizes in one request?) ({e})") from None
    if array.dtype == object and dtype.is_integer:  # integers past int64 (2**64): NumPy keeps them as objects
        try:
            numbers = np.isfinite(np.array(value, np.float64)).all()  # a null reads as NaN
        except (TypeError, ValueError):
            numbers = False
        if numbers:
            raise invalid_argument(f"input {name!r}: values outside the {dtype.name} range [{dtype.min}, {dtype.max}]")
    if array.dtype == object or array.dtype.kind in "SU":
        raise invalid_argument(f"input {name!r}: expected {dtype.name} numbers, got "
                               f"{'text' if array.dtype.kind in 'SU' else 'nulls or objects'}")
    target = dtype.as_numpy_dtype
    if array.size == 0:  # `[]` is float64 to NumPy: no value to be a decimal (the graph names what is missing)
        return array.astype(target)
    # As TF Serving's json_tensor.cc reads JSON: an integer input takes only integers (3.0 is a decimal, true a
    # boolean: both refused), a float input numbers but not true/false, a bool input only true/false. NumPy
    # would convert each silently (`true` in a video would be read as 1). A list mixing true/false
    # with numbers becomes numbers in NumPy and is not caught here: looking at each value in Python would cost
    # seconds for an HD clip (docs/serving.md says so).
    kind = array.dtype.kind
    if kind == "b" and dtype != tf.bool:
        raise invalid_argument(f"input {name!r}: JSON true/false is not {dtype.name}: send numbers")
    if dtype == tf.bool and kind != "b":
        raise invalid_argument(f"input {name!r}: expected JSON true/false for bool, got numbers")
    if dtype.is_integer:
        if kind == "f":
            odd = array[~np.isfinite(array) | (array != np.round(array))]
            such = f"numbers such as {float(odd.flat[0])}" if odd.size else "some numbers"
            raise invalid_argument(f"input {name!r}: JSON value is not {dtype.name}: {such} are written as decimals; "
                                   "send integers (as 3, not 3.0)")
        if array.size and (array.min() < dtype.min or array.max() > dtype.max):
            raise invalid_argument(f"input {name!r}: values outside the {dtype.name} range [{dtype.min}, {dtype.max}]")
    return array.astype(target)


def _json_body(body: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A REST body as a JSON object, its `signature_name` a string.

    Raises:
        tf.errors.InvalidArgumentError: not JSON, not UTF-8, nested too deep to read, not an object.
    """
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as e:
            raise invalid_argument(f"JSON parse error: {e}") from None
        except UnicodeDecodeError:
            raise invalid_argument("JSON parse error: the body is not UTF-8 text") from None
        except RecursionError:
            raise invalid_argument("JSON parse error: arrays or objects nested too deep") from None
    if not isinstance(body, dict):
        raise invalid_argument("the request body must be a JSON object")
    if not isinstance(body.get("signature_name", DEFAULT_SIGNATURE), str):
        raise invalid_argument("'signature_name' must be a string")
    return body


def parse_rest_body(body: str | bytes | Mapping[str, Any],
                    input_specs: Mapping[str, tf.TensorSpec]) -> tuple[str, dict[str, np.ndarray], str]:
    """Reads a TF Serving REST predict body.

    Args:
        body: JSON text or the parsed dict: `{"signature_name"?, "inputs": {...}}` (columnar; a bare value is
            allowed when the signature has one input) or `{"signature_name"?, "instances": [{...}, ...]}` (row
            format: instances are stacked along a new batch axis).
        input_specs: the signature's inputs (name → `tf.TensorSpec`), for names and dtypes.

    Returns:
        (signature_name, {name: array}, "inputs" or "instances"): the format decides the response's key
        (`"outputs"` or `"predictions"`).

    Raises:
        tf.errors.InvalidArgumentError: malformed JSON, both or neither of inputs/instances, unknown or missing
            input names, values that are not of the input's dtype.
    """
    body = _json_body(body)
    signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
    if ("inputs" in body) == ("instances" in body):
        raise invalid_argument("the request body must have exactly one of 'inputs' (columnar) or 'instances' (row)")
    names = sorted(input_specs)
    if "inputs" in body:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            if len(names) != 1:
                raise invalid_argument(f"'inputs' must be an object with the inputs {names}")
            columns = {names[0]: columns}
        fmt = "inputs"
    else:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise invalid_argument("'instances' must be a non-empty list")
        if len(names) == 1 and not isinstance(rows[0], dict):
            columns = {names[0]: rows}
        else:
            if not all(isinstance(r, dict) and sorted(r) == names for r in rows):
                raise invalid_argument(f"every instance must be an object with the inputs {names}")
            columns = {n: [r[n] for r in rows] for n in names}
        fmt = "instances"
    check_input_names(signature_name, input_specs, columns)
    return signature_name, {n: json_to_array(columns[n], input_specs[n].dtype, n) for n in names}, fmt


def check_input_names(signature_name: str, input_specs: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """Raises `tf.errors.InvalidArgumentError` naming the inputs a request lacks or has in excess, as TF Serving
    answers INVALID_ARGUMENT for them."""
    names = sorted(input_specs)
    unknown, missing = sorted(set(inputs) - set(names)), sorted(set(names) - set(inputs))
    if unknown or missing:
        raise invalid_argument(f"signature {signature_name!r} takes inputs {names}; unknown {unknown}, "
                               f"missing {missing}")


def rest_response(outputs: Mapping[str, Any], fmt: str = "inputs") -> dict[str, Any]:
    """The REST response body: `{"outputs": {name: lists}}` for a columnar request, `{"predictions": [...]}`
    (one object per batch item) for a row request."""
    # strings as UTF-8 text, as TF Serving writes them; a `_bytes` output's as {"b64": ...}
    lists = {k: _to_json(v, as_bytes=k.endswith(BYTES_SUFFIX)) for k, v in outputs.items()}
    if fmt == "inputs":
        return {"outputs": lists}
    sizes = {np.shape(v)[0] if np.ndim(v) else None for v in outputs.values()}
    if len(sizes) != 1 or None in sizes:  # `describe_queries`' sizes are scalars: no row holds them
        raise invalid_argument("this signature's outputs do not share a batch size (some are scalars), so they "
                               "cannot be answered as rows: send 'inputs' (columnar), not 'instances'")
    n = sizes.pop()
    return {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(n)]}


# === HTTP client of a running server ===
# (a model's name or label may hold spaces and letters outside ASCII: they are percent-encoded when requested)
REST_URL = re.compile(r"^https?://[^/\s]+/v1/models/[^/:\x00-\x1f\x7f]+(/versions/\d+|/labels/[^/:\x00-\x1f\x7f]+)?$")
# The largest predict answer read: a mask value is at most 3 bytes of JSON ("1, "), a float32 probability at most
# ~21 ("0.12345678901234567, "), so one clip of 4K frames (3840 x 2160) and 10 sentences is 10 x 8.3 M pixels x 24
# bytes = 1.99 GB. `ServingPredictor` sends no more sentences a request than fit: a larger answer was not asked for.
MAX_ANSWER_BYTES = 1 << 31
# Metadata and error answers: TF Serving's are a few kB (signature defs, one error message).
MAX_SMALL_ANSWER_BYTES = 1 << 24
READ_BYTES = 1 << 20  # one piece of an answer, between two checks of the deadline


class _Deadline:
    """The end of one request: when it passes, every connection the request opened is shut down, so that a server
    trickling its status line, headers or body a byte at a time cannot hold the caller past it (the socket timeout
    bounds each wait, not their sum). `expired` says whether it did."""

    def __init__(self, seconds: float):
        self.at, self.expired, self._timers = time.monotonic() + seconds, False, []

    def watch(self, sock: socket.socket) -> None:
        timer = threading.Timer(max(0.0, self.at - time.monotonic()), self._expire, (sock,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _expire(self, sock: socket.socket) -> None:
        self.expired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)  # a blocked read or send returns at once
        except OSError:  # already closed
            pass

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener (proxies, redirects and all) whose HTTP(S) connections this deadline watches."""
        deadline = self

        def watched(base):
            class Connection(base):
                def connect(self):
                    super().connect()
                    deadline.watch(self.sock)
            return Connection

        class HTTPHandler(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(watched(http.client.HTTPConnection), req)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(watched(http.client.HTTPSConnection), req, context=self._context)

        return urllib.request.build_opener(HTTPHandler, HTTPSHandler)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for timer in self._timers:
            timer.cancel()


class RestClient:
    """Calls a running TF Serving's REST predict API (`POST <url>:predict`, JSON bodies of `rest_body`) with the
    standard library's HTTP client; the same `run` as `LocalServer`.

    Args:
        url: the model's URL, `http://host:8501/v1/models/NAME` (optionally `/versions/N` or `/labels/L`).
        timeout: seconds for a whole request: connecting, sending it and reading the whole answer, its status line
            and headers included. At the deadline the connection is shut down, however slowly the server is still
            answering; no single wait on the server is longer than `timeout` either.

    Raises:
        ValueError: `url` is not of that form.
    """

    def __init__(self, url: str, timeout: float = 600.0):
        url = str(url).rstrip("/")
        if not REST_URL.match(url):
            raise ValueError(f"{url}: not a TF Serving model URL; expected http://HOST:PORT/v1/models/NAME "
                             "(optionally /versions/N or /labels/LABEL)")
        self.url, self.timeout = url, timeout
        # what is requested: the path percent-encoded (a model named 模型甲 failed in http.client with "'ascii' codec
        # can't encode characters"); an escape already typed (%E6...) is kept, a "%" that begins none is encoded,
        # and messages name `url` as given
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        path = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", path)
        self._address = f"{scheme}://{host}/{urllib.parse.quote(path, safe='/%')}"

    def run(self, inputs: Mapping[str, Any], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, np.ndarray]:
        """Sends one columnar predict request; returns the outputs as NumPy arrays (JSON numbers: int64 /
        float64, booleans: bool, strings: object arrays of str, a `_bytes` output's: object arrays of bytes).

        Raises:
            tf.errors.InvalidArgumentError: the server refused the request (HTTP 400 and its message, e.g. a failed
                graph check).
            ServiceUnavailable: an OSError: the server cannot be reached, answers an HTTP 5xx (503 while a version
                loads), gives no complete answer within `timeout` seconds, or breaks off its answer.
            OSError: the server answers another HTTP error (404: the message gives the status), answers more
                than `MAX_ANSWER_BYTES`, or does not answer with a predict response (not JSON, no 'outputs'
                object, an output that is not a rectangular array).
        """
        data = json.dumps(rest_body(inputs, signature_name)).encode("utf-8")
        request = urllib.request.Request(self._address + ":predict", data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        with _Deadline(self.timeout) as deadline:
            try:
                response = deadline.opener().open(request, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                with e:
                    text = self._read(e, self.url, deadline, MAX_SMALL_ANSWER_BYTES).decode("utf-8", "replace")
                try:
                    message = json.loads(text)["error"]
                except (ValueError, KeyError, TypeError):
                    message = None
                if e.code == 400 and message is not None:  # TF Serving's INVALID_ARGUMENT: the request was refused
                    raise invalid_argument(f"{self.url}: {message}") from None
                # Another status is the server's state, not the request's: 503 while a version loads, 404 for a
                # version not (yet) served, 500: not an InvalidArgumentError (and "export it again")
                kind = ServiceUnavailable if e.code >= 500 else OSError
                raise kind(f"{self.url}: HTTP {e.code} {e.reason}: {str(message or text)[:200]}") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # BadStatusLine: not HTTP
                raise self._unreachable(self.url, e, deadline) from None
            with response:
                body = self._json(self._read(response, self.url, deadline, MAX_ANSWER_BYTES), self.url)
        if not isinstance(body, dict) or not isinstance(body.get("outputs"), dict):
            raise OSError(f"{self.url}: the answer has no 'outputs' object: {str(body)[:200]}")
        outputs = {}
        for name, value in body["outputs"].items():
            try:
                outputs[name] = np.array(_from_json(value), dtype=object) if name.endswith(BYTES_SUFFIX) else \
                    np.asarray(value)
            except ValueError:  # ragged nested lists; a `_bytes` output's value that is not {"b64": ...}
                raise OSError(f"{self.url}: the answer's output {name!r} is not "
                              + ("a rectangular array of {'b64': ...} objects of standard base64"
                                 if name.endswith(BYTES_SUFFIX) else "a rectangular array")) from None
        return outputs

    def signature_names(self) -> list[str]:
        """The served model's signatures, from TF Serving's REST metadata API (`GET <url>/metadata`), without
        TensorFlow's own `__saved_model_init_op`.

        Raises:
            ServiceUnavailable: an OSError: the server cannot be reached or gives no complete answer within
                `timeout` seconds (as `run`).
            OSError: the server answers more than `MAX_SMALL_ANSWER_BYTES`, or its answer is not a metadata
                response.
        """
        url = self.url + "/metadata"
        with _Deadline(self.timeout) as deadline:
            try:
                response = deadline.opener().open(self._address + "/metadata", timeout=self.timeout)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                raise self._unreachable(url, e, deadline, "cannot read the model's signatures") from None
            with response:
                body = self._json(self._read(response, url, deadline, MAX_SMALL_ANSWER_BYTES), url)
        try:
            return _public(body["metadata"]["signature_def"]["signature_def"])
        except (KeyError, TypeError, AttributeError) as e:
            raise OSError(f"{url}: not a TF Serving metadata answer ({type(e).__name__}: {e})") from None

    def _late(self, url: str) -> OSError:
        return ServiceUnavailable(f"{url}: no complete answer within {self.timeout:g} s (the timeout)")

    def _unreachable(self, url: str, error: Exception, deadline: _Deadline,
                     what: str = "cannot reach the server") -> OSError:
        """The error for a request that got no answer: the deadline's for a server that stopped answering or
        answered too slowly."""
        reason = getattr(error, "reason", None) or error
        if deadline.expired or isinstance(reason, TimeoutError):
            return self._late(url)
        return ServiceUnavailable(f"{url}: {what} ({type(reason).__name__ if not str(reason) else reason})")

    def _read(self, response, url: str, deadline: _Deadline, limit: int) -> bytes:
        """The whole body of `response`, read a piece (`READ_BYTES`) at a time: refused past the deadline (a server
        trickling its answer) or past `limit` bytes (declared or received).

        Raises:
            OSError: the deadline passed, the answer is longer than `limit`, or it broke off.
        """
        declared = (response.headers.get("Content-Length") or "").strip()
        too_long = f"{url}: the answer is longer than {limit} bytes, more than any answer asked for; refused"
        if declared.isdigit() and int(declared) > limit:
            raise OSError(f"{too_long} (Content-Length {declared})")
        pieces, size = [], 0
        while True:
            try:
                piece = response.read1(READ_BYTES)
            except TimeoutError:
                raise self._late(url) from None
            except (OSError, http.client.HTTPException) as e:  # IncompleteRead: closed before Content-Length
                if deadline.expired:
                    raise self._late(url) from None
                raise ServiceUnavailable(f"{url}: the answer broke off ({type(e).__name__}: {e})") from None
            if deadline.expired or time.monotonic() > deadline.at:  # shut down mid-answer: its end is not the end
                raise self._late(url)
            if not piece:
                return b"".join(pieces)
            size += len(piece)
            if size > limit:
                raise OSError(too_long)
            pieces.append(piece)

    @staticmethod
    def _json(data: bytes, url: str) -> Any:
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as e:  # RecursionError: lists nested thousands deep
            raise OSError(f"{url}: the answer is not JSON ({type(e).__name__}: {str(e)[:200]})") from None


class GrpcClient:
    """Calls a running TF Serving's gRPC `PredictionService` (`Predict`, `GetModelMetadata`); the same `run` as
    `RestClient`. Tensors travel as binary `TensorProto`s: a uint8 video is one byte a pixel value, not JSON text.

    Args:
        url: `grpc://HOST:PORT/NAME` (TF Serving's gRPC port, 8500 by default), optionally `/versions/N`.
        timeout: seconds per request.

    Raises:
        ValueError: `url` is not of that form.
        ImportError: tensorflow-serving-api (and so grpcio) is missing.
    """

    MESSAGE_BYTES = 1 << 30  # a clip of 16 frames at 3840 x 2160 is 398 MB; gRPC's default limit is 4 MB

    def __init__(self, url: str, timeout: float = 600.0):
        url = str(url).rstrip("/")
        match = GRPC_URL.match(url)
        if not match:
            raise ValueError(f"{url}: not a TF Serving gRPC URL; expected grpc://HOST:PORT/NAME (optionally "
                             "/versions/N)")
        import_serving_apis()
        import grpc
        from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

        self.url, self.timeout, self.name = url, timeout, match["name"]
        self.version = int(match["version"]) if match["version"] else None
        options = [("grpc.max_send_message_length", self.MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", self.MESSAGE_BYTES)]
        self._grpc, self._metadata_pb2 = grpc, get_model_metadata_pb2
        self.channel = grpc.insecure_channel(match["target"], options=options)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def _call(self, method, request):
        if self.version is not None:
            request.model_spec.version.value = self.version
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as e:
            if e.code() == self._grpc.StatusCode.INVALID_ARGUMENT:
                raise invalid_argument(f"{self.url}: {e.details()}") from None
            if e.code() == self._grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in (e.details() or ""):
                # a message past gRPC's bound (this client's 1 GiB, or the server's): sent again, it fails again
                raise invalid_argument(f"{self.url}: {e.details()}: the request or its answer is larger than gRPC "
                                       "carries (scale the video down, or use the REST URL: PNG frames)") from None
            kind = ServiceUnavailable if e.code().name in RETRYABLE_GRPC else OSError
            raise kind(f"{self.url}: {e.code().name}: {e.details()}") from None

    def run(self, inputs: Mapping[str, Any], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, np.ndarray]:
        """Sends one `PredictRequest`; returns the outputs as NumPy arrays.

        Raises:
            tf.errors.InvalidArgumentError: the server refused the request (its message).
            ServiceUnavailable: an OSError: the server failed for now (`RETRYABLE_GRPC`: UNAVAILABLE for one that
                cannot be reached, DEADLINE_EXCEEDED past `timeout`).
            OSError: another gRPC status (NOT_FOUND: a model or version it does not serve), with its details.
        """
        return response_outputs(self._call(self.stub.Predict, predict_request(inputs, signature_name, self.name)))

    def signature_names(self) -> list[str]:
        """The served model's signatures (`GetModelMetadata`), without TensorFlow's own `__saved_model_init_op`."""
        request = self._metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = self.name
        request.metadata_field.append("signature_def")
        response = self._call(self.stub.GetModelMetadata, request)
        signatures = self._metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return _public(signatures.signature_def)


def _public(names) -> list[str]:
    """Signature names, sorted, without those TensorFlow reserves (`__saved_model_init_op`)."""
    return sorted(name for name in names if not name.startswith("__"))


GRPC_URL = re.compile(r"^grpc://(?P<target>[^/\s]+)/(?P<name>[^/:\s]+)(/versions/(?P<version>\d+))?$")


# === In-process server ===
def _load_saved_model(export_dir: str):
    """`tf.saved_model.load`; a local folder whose path holds a glob character (`[`: "modelos [2026]") through a
    link without one: TensorFlow's checkpoint reader takes the variables' path as a pattern, and found none there
    ("Failed to find any matching files for .../variables/variables", a tester's)."""
    path = os.path.abspath(export_dir) if "://" not in export_dir else export_dir
    if "://" in export_dir or not files.GLOB_CHARACTERS.search(path):
        return tf.saved_model.load(export_dir)
    # in the temporary folder, or /tmp where its path holds one too (a reviewer's TMPDIR "tmp [t]"); where no link
    # can be made there, loaded as it is (TensorFlow's error then names the folder given)
    for parent in (tempfile.gettempdir(), "/tmp"):
        if files.GLOB_CHARACTERS.search(os.path.abspath(parent)) or not os.path.isdir(parent):
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="acga-model-", dir=parent) as folder:  # (read whole at load: the
                link = os.path.join(folder, "saved_model")  # link can go)
                os.symlink(path, link)
                return tf.saved_model.load(link)
        except PermissionError:  # a folder this user may not write
            continue
    return tf.saved_model.load(export_dir)


class LocalServer:
    """Answers TF Serving gRPC and REST predict requests from a SavedModel directory, in this process.

    Args:
        export_dir: a version folder written by `acga_tf.serving.export.export_model` (or any SavedModel).

    Example:
        >>> server = LocalServer("saved_models/acga/1")
        >>> video = np.zeros((1, 8, 64, 64, 3), np.uint8)  # (B, T, H, W, 3): a clip of T frames
        >>> sorted(server.predict_json({"inputs": {"video": video.tolist(), "query": ["the man running"]}})["outputs"])
        ['empty', 'mask', 'probability', 'score']
    """

    def __init__(self, export_dir: str):
        self.export_dir = str(export_dir)
        try:
            self.saved_model = _load_saved_model(self.export_dir)
        except (tf.errors.OpError, OSError, ValueError, IndexError) as e:  # IndexError: truncated variables
            reason = error_message(e) if isinstance(e, tf.errors.OpError) else str(e)
            reason = reason.strip().splitlines()[0] if reason.strip() else type(e).__name__
            remedy = ("check its files' owner and permissions" if "permission denied" in reason.lower() else
                      "export it again with `acga export`")  # a file this process may not read is not damaged
            raise ValueError(f"{self.export_dir}: cannot load the SavedModel ({reason}); {remedy}") from None
        self.signatures = dict(self.saved_model.signatures)

    def signature_names(self) -> list[str]:
        """The SavedModel's signatures."""
        return sorted(self.signatures)

    def input_specs(self, signature_name: str = DEFAULT_SIGNATURE) -> dict[str, tf.TensorSpec]:
        """name → `tf.TensorSpec` of a signature's inputs."""
        return dict(self._signature(signature_name).structured_input_signature[1])

    def _signature(self, name: str):
        if name not in self.signatures:
            raise invalid_argument(f"signature {name!r} not found; the model has {sorted(self.signatures)}")
        return self.signatures[name]

    def run(self, inputs: Mapping[str, Any], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, np.ndarray]:
        """Calls a signature on arrays; returns its outputs as NumPy arrays.

        Raises:
            tf.errors.InvalidArgumentError: a bad request (the graph's checks name what is wrong).
        """
        signature = self._signature(signature_name)
        check_input_names(signature_name, self.input_specs(signature_name), inputs)  # (else Python's TypeError)
        tensors = {}
        for name, value in inputs.items():
            if not isinstance(value, tf.Tensor):
                try:
                    array = np.asarray(value)
                except ValueError:  # NumPy's "inhomogeneous shape"
                    raise invalid_argument(f"input {name!r}: not a rectangular array: its nested lists differ in "
                                           "length") from None
                # (a list of bytes as an object array: NumPy's fixed-width bytes drop each one's trailing NULs)
                value = string_array(value, name) if array.dtype.kind in "OSU" else array
            tensors[name] = tf.convert_to_tensor(value)
        try:
            outputs = signature(**tensors)
        except tf.errors.InvalidArgumentError as e:
            raise invalid_argument(error_message(e)) from None
        return {k: v.numpy() for k, v in outputs.items()}

    def predict(self, request):
        """Answers a gRPC `PredictRequest` with a `PredictResponse` (both tensorflow-serving-api protos)."""
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        return predict_response(self.run(request_inputs(request), signature_name), request)

    def predict_json(self, body: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Answers a REST predict body; a bad request gives `{"error": message}` as TF Serving's REST API does."""
        try:
            body = _json_body(body)
            name, inputs, fmt = parse_rest_body(body, self.input_specs(body.get("signature_name", DEFAULT_SIGNATURE)))
            return rest_response(self.run(inputs, name), fmt)
        except tf.errors.InvalidArgumentError as e:
            return {"error": e.message}
