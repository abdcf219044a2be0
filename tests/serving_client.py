"""Answers serving requests from an exported SavedModel in a fresh process (run by tests/test_export.py).

    python tests/serving_client.py EXPORT_DIR WORK_DIR

WORK_DIR/manifest.json lists requests in order: `{"id", "kind": "grpc" | "rest" | "run", "path", "signature"}`;
gRPC requests are serialized `PredictRequest` protos, REST ones JSON bodies, "run" ones `.npz` arrays fed to the
signature directly. Each is answered as TF Serving would (gRPC: decode with `tf.make_ndarray`, call the signature;
REST: parse the columnar/row JSON, call the signature), and a failure is recorded, not fatal. Writes
`<id>.response.{pb,json,npz}` and WORK_DIR/results.json with the outcomes, the signatures, the op types of every
graph function and the warmup replay (when tensorflow-serving-api is installed).

Only TensorFlow, tensorflow-serving-api and `acga_tf.serving.client` (which imports no model code) are loaded: the
SavedModel must answer without the package's Keras classes.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from acga_tf.serving.client import LocalServer

PY_FUNCTION_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def graph_op_types(export_dir: str) -> dict[str, list[str]]:
    """Op types of the SavedModel's graph and of every function in its library (calls to library functions
    excluded), with those that are Python functions or not registered in stock TensorFlow."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops, functions = set(), set()
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions |= {fn.signature.name for fn in library.function}
        ops |= {node.op for node in meta_graph.graph_def.node}
        for fn in library.function:
            ops |= {node.op for node in fn.node_def}
    ops -= functions
    return {"ops": sorted(ops), "functions": len(functions),
            "python": sorted(ops & PY_FUNCTION_OPS),
            "unregistered": sorted(op for op in ops if op_def_registry.get(op) is None)}


def main(export_dir: str, work_dir: str) -> None:
    server = LocalServer(export_dir)
    with open(os.path.join(work_dir, "manifest.json")) as f:
        manifest = json.load(f)
    outcomes = {}
    for item in manifest:
        try:
            if item["kind"] == "run":
                with np.load(item["path"], allow_pickle=True) as data:
                    outputs = server.run({k: data[k] for k in data.files}, item["signature"])
                np.savez(os.path.join(work_dir, item["id"] + ".response.npz"), **outputs)
            elif item["kind"] == "grpc":
                from tensorflow_serving.apis import predict_pb2

                request = predict_pb2.PredictRequest.FromString(open(item["path"], "rb").read())
                response = server.predict(request)
                with open(os.path.join(work_dir, item["id"] + ".response.pb"), "wb") as f:
                    f.write(response.SerializeToString())
            else:
                response = server.predict_json(open(item["path"], encoding="utf-8").read())
                with open(os.path.join(work_dir, item["id"] + ".response.json"), "w") as f:
                    json.dump(response, f)
                if "error" in response:
                    raise tf.errors.InvalidArgumentError(None, None, response["error"])
            outcomes[item["id"]] = {"ok": True}
        except Exception as e:  # a bad request must fail cleanly; the next request shows the process survived
            outcomes[item["id"]] = {"ok": False, "type": type(e).__name__, "message": getattr(e, "message", str(e))}
    warmup = []
    path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    records = tf.data.TFRecordDataset(path).as_numpy_iterator() if os.path.exists(path) else []
    for record in records:
        from tensorflow_serving.apis import prediction_log_pb2

        log = prediction_log_pb2.PredictionLog.FromString(record)
        response = server.predict(log.predict_log.request)
        warmup.append({"signature": log.predict_log.request.model_spec.signature_name,
                       "outputs": {k: [d.size for d in v.tensor_shape.dim] for k, v in response.outputs.items()}})
    signatures = {name: {"inputs": {k: v.dtype.name for k, v in fn.structured_input_signature[1].items()},
                         "outputs": {k: v.dtype.name for k, v in fn.structured_outputs.items()}}
                  for name, fn in server.signatures.items()}
    model_modules = sorted(m for m in sys.modules if m.startswith("acga_tf")
                           and m not in ("acga_tf.serving.client", "acga_tf.ops.errors", "acga_tf.ops.extras",
                                         "acga_tf.ops.files", "acga_tf.ops.limits")
                           # the client, its errors, its install hint, its file helpers (a path's glob characters),
                           # the signals that stop a command (which its errors' stop handling reads)
                           and m not in ("acga_tf", "acga_tf.serving", "acga_tf.ops"))  # the packages themselves
    # these light modules (no layers); no model, layer or data code may be loaded
    with open(os.path.join(work_dir, "results.json"), "w") as f:
        json.dump({"outcomes": outcomes, "warmup": warmup, "signatures": signatures,
                   "graph": graph_op_types(export_dir), "acga_modules_loaded": model_modules}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
