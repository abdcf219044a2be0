"""A test double of TensorFlow Serving's REST API: a stdlib `http.server` in a thread, answering

    POST /v1/models/<name>[/versions/<n>]:predict   {"signature_name"?, "inputs" | "instances"}
    GET  /v1/models/<name>                          the model's status
    GET  /v1/models/<name>/metadata                 its signatures (names, input and output dtypes)

over an exported SavedModel loaded with `tf.saved_model.load` (`acga_tf.serving.LocalServer`, which parses the
bodies the way TF Serving documents them). A bad request gets HTTP 400 with `{"error": message}`, an unknown model
404, as TF Serving answers. The real `tensorflow/serving` container is not run by the tests.

    with TFServingStandIn(export_dir, "acga") as url:   # url = http://127.0.0.1:PORT/v1/models/acga
        ...
"""

from __future__ import annotations

import http.server
import json
import re
import threading

from acga_tf.serving.client import LocalServer

PREDICT = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/\d+|/labels/[^/:]+)?:predict$")
STATUS = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/\d+)?(?P<metadata>/metadata)?$")


class TFServingStandIn:
    """Serves one SavedModel under `name` on 127.0.0.1 (a free port) while the context is open.

    Attributes:
        requests: the number of predict requests answered (good or bad).
    """

    def __init__(self, export_dir: str, name: str = "acga"):
        self.server_model, self.name, self.requests = LocalServer(str(export_dir)), name, 0
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
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
                if not match or match["name"] != stand_in.name:
                    return self._send(404, {"error": f"Servable not found for request: {self.path}"})
                stand_in.requests += 1
                answer = stand_in.server_model.predict_json(body)
                self._send(400 if "error" in answer else 200, answer)

            def do_GET(self):  # noqa: N802
                match = STATUS.match(self.path)
                if not match or match["name"] != stand_in.name:
                    return self._send(404, {"error": f"Servable not found for request: {self.path}"})
                if match["metadata"]:
                    return self._send(200, stand_in.metadata())
                self._send(200, {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                           "status": {"error_code": "OK", "error_message": ""}}]})

            def log_message(self, *args):  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/models/{name}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def metadata(self) -> dict:
        """`GET .../metadata` as TF Serving answers it: the SignatureDefs as JSON (dtypes; shapes left out)."""
        def tensors(specs):
            return {name: {"dtype": f"DT_{spec.dtype.name.upper()}", "tensor_shape": {"unknown_rank": True},
                           "name": f"{name}:0"} for name, spec in specs.items()}

        signatures = {}
        for name, function in self.server_model.signatures.items():
            signatures[name] = {"inputs": tensors(function.structured_input_signature[1]),
                                "outputs": tensors(function.structured_outputs),
                                "method_name": "tensorflow/serving/predict"}
        return {"model_spec": {"name": self.name, "signature_name": "", "version": "1"},
                "metadata": {"signature_def": {"signature_def": signatures}}}

    def __enter__(self) -> "TFServingStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
