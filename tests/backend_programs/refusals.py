"""The commands that run the model inside TensorFlow graphs, under another Keras backend: each refuses in one line.

    KERAS_BACKEND=jax python -m tests.backend_programs.refusals RUN SAVED_MODEL VIDEO OUT --result RESULT.json \
        [--train-data PATTERN --train-output DIR]

RUN is a trained run (tests/runs.py), SAVED_MODEL its export, VIDEO a video file, OUT an empty folder for what the
commands would write. Each command runs through `acga_tf.cli.main` in this process; the result records its exit
status, its stderr and what it left in OUT. With `--train-data`, also `acga train --feature-cache` on those shards
into DIR (the feature cache is TensorFlow's alone). Last, `acga predict` from SAVED_MODEL, which needs no Keras
backend, writes its masks to OUT/served.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket

from tests.backend_programs.common import active_backend, write_result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    parser.add_argument("run")
    parser.add_argument("saved_model")
    parser.add_argument("video")
    parser.add_argument("out")
    parser.add_argument("--train-data", help="training shards (a glob) for `acga train --feature-cache`")
    parser.add_argument("--train-output", help="the run folder `acga train --feature-cache` is given")
    args = parser.parse_args(argv)
    backend = active_backend()
    from acga_tf.cli import main as acga

    out = args.out
    with socket.socket() as free:  # a port `acga app` may listen on: it refuses the backend after checking the port
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    commands = {
        "export": ["export", "--model", args.run, "--output", os.path.join(out, "saved_models", "acga", "1")],
        "evaluate": ["evaluate", "--model", args.run, "--data", os.path.join(out, "test-*.tfrecord")],
        "predict": ["predict", "--model", args.run, "--video", args.video, "--query", "the red circle",
                    "--output", os.path.join(out, "overlay.mp4"), "--no-progress"],
        "visualize attention": ["visualize", "--model", args.run, "--output", os.path.join(out, "attention.png"),
                                "--video", args.video, "--query", "the red circle", "--point", "10,10"],
        "visualize grid": ["visualize", "--model", args.run, "--output", os.path.join(out, "grid.png"),
                           "--data", os.path.join(out, "test-*.tfrecord")],
        "demo": ["demo", "--output", os.path.join(out, "demo"), "--videos", "8", "--epochs", "1"],
        "app": ["app", "--model", args.run, "--port", str(port)],
    }
    if args.train_data:
        commands["train --feature-cache"] = ["train", "--preset", "tiny", "--data", args.train_data, "--output",
                                             args.train_output, "--feature-cache"]
    results = {}
    for name, argv_ in commands.items():
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = acga(argv_)
        results[name] = {"status": status, "stderr": stderr.getvalue()}
    written = sorted(os.listdir(out))
    served = acga(["predict", "--model", args.saved_model, "--video", args.video, "--query", "the red circle",
                   "--frames-dir", os.path.join(out, "served"), "--no-progress"])
    write_result(args.result, {"backend": backend, "commands": results, "written": written,
                               "served": {"status": served, "frames": sorted(os.listdir(os.path.join(out, "served")))}})


if __name__ == "__main__":
    main()
