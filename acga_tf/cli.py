"""The `acga` command: thin argparse subcommands over library functions.

Each subcommand's options are declared in `acga_tf/command_options.py` (free of TensorFlow, so that `acga <command>
--help` answers without loading it); here each has a `_run_<name>(args) -> int` that calls the library. User errors
(ValueError, FileNotFoundError, ImportError for optional extras) end with one line on stderr and exit status 2, not a
traceback.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import importlib.util
import json
import logging
import math
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator

from acga_tf import command_options
from acga_tf.ops import limits, native_log, options

# Keras' backends and the module each needs.
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy",
                  "openvino": "openvino"}


def _check_keras_backend() -> None:
    """Exits with one line (status 2) where KERAS_BACKEND, or Keras' `keras.json` where it is unset, names no Keras
    backend or one that is not installed: Keras would fail on import, before the command could say so. Spaces around
    KERAS_BACKEND's value are dropped (a service file's `Environment=KERAS_BACKEND=tensorflow ` was a traceback)."""
    name, source, fix = os.environ.get("KERAS_BACKEND", "").strip(), "KERAS_BACKEND", "unset KERAS_BACKEND"
    if name:
        os.environ["KERAS_BACKEND"] = name  # as Keras reads it
    else:
        os.environ.pop("KERAS_BACKEND", None)  # spaces alone: unset (Keras read "  " as a backend's name)
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        path = os.path.join(home, "keras.json")  # (Keras' own choice where KERAS_BACKEND is unset)
        try:
            with open(path, encoding="utf-8") as f:
                settings = json.load(f)
        except (OSError, ValueError):  # none, or not JSON: Keras passes over it too
            return
        if not isinstance(settings, dict):  # TensorFlow's and Keras' imports failed on it ("'list' object has no
            print(f"acga: error: {path}: not a JSON object (Keras reads its settings from it): correct or remove it",
                  file=sys.stderr)  # attribute 'get'")
            sys.exit(2)
        name, source, fix = settings.get("backend", ""), f"{path}: backend", "set KERAS_BACKEND=tensorflow"
    if not isinstance(name, str):
        problem = "not a Keras backend's name"
    elif name and name not in KERAS_BACKENDS:
        problem = f"not a Keras backend (one of {', '.join(KERAS_BACKENDS)})"
    elif name and importlib.util.find_spec(KERAS_BACKENDS[name]) is None:
        module = KERAS_BACKENDS[name]
        problem = f"{module} is not installed (pip install {module}, or {fix})"
    else:
        return
    print(f"acga: error: {source}={name}: {problem}", file=sys.stderr)
    sys.exit(2)


def _writable_matplotlib_config() -> None:
    """Points Matplotlib at a temporary folder (removed at exit) where its own, `~/.config/matplotlib` and
    `~/.cache/matplotlib` (or `$XDG_CONFIG_HOME`, `$XDG_CACHE_HOME`), cannot be written: Matplotlib makes one too, but
    first prints two lines ("mkdir -p failed ...", "Matplotlib created a temporary cache directory ...") before
    every command's output, its one-line errors included (an unwritable or unset HOME: a container, a service)."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = os.path.expanduser("~")
    for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache")):
        folder = os.path.join(os.environ.get(variable) or os.path.join(home, default), "matplotlib")
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                continue
        except OSError:
            pass
        os.environ["MPLCONFIGDIR"] = temporary = tempfile.mkdtemp(prefix="acga-matplotlib-")
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        return


def _after_caret_c() -> str:
    """What starts a line reporting a stop: a newline on a terminal, where Ctrl-C left "^C" on the current line;
    nothing in a log or a pipe (it was a blank line there)."""
    try:
        return "\n" if sys.stderr.isatty() else ""
    except (AttributeError, ValueError):  # None, or closed
        return ""


def _interrupted_while_starting(signum, frame) -> None:
    """Ctrl-C, SIGTERM or SIGHUP while TensorFlow loads (seconds): one line, not a traceback (SIGTERM's and SIGHUP's
    default ended the command without a line: a security tester's `timeout -s TERM 2 acga predict ...`); the command
    then ends by the signal (`end_by_signal`), anything else that imports this module (a notebook) with SystemExit.
    The line goes to stderr itself, not through the filter that holds back TensorFlow's start-up lines (its thread
    would not pass it on before the process ends: the command ended silently)."""
    native_log.unfilter_stderr()
    print(f"{_after_caret_c() if signum == signal.SIGINT else ''}acga: {_stopped_by(signum)} while starting",
          file=sys.stderr)
    if __name__ == "__main__" or os.path.basename(sys.argv[0] if sys.argv else "") == "acga":
        end_by_signal(signum)
    raise SystemExit(128 + signum)


def _stopped_by(signum: int) -> str:
    """How a command's one line says the stop `signum` (one of `limits.STOP_SIGNALS`)."""
    return {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}.get(signum, "hung up")


def end_by_signal(signum: int) -> None:
    """Ends the process by the signal `signum`, as if its default action had run, once what it says is flushed.

    A shell loop (`for v in *.mp4; do acga predict ...; done`) goes on to the next command after a child that exited
    with status 130: bash takes that as a child that handled Ctrl-C itself; only a child killed by SIGINT stops the
    loop, as Ctrl-C means to. The shell's `$?` is 130 either way.
    What Python does at exit is done first (`atexit`): removing Matplotlib's temporary folder, TensorFlow's generated
    files; else each command a scheduler stops leaves them in the temporary folder."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    raise SystemExit(128 + signum)  # where the signal did not end it (a platform without it)


limits.open_closed_standard_streams()  # (`python -m acga_tf.cli` starts here; `acga`, in acga_tf/__main__.py)
_check_keras_backend()
_writable_matplotlib_config()
# A worker process of `acga prepare --workers N` (multiprocessing's "spawn", `convert.make_pool`) runs this module as
# "__mp_main__" before its first shard: it leaves Ctrl-C, which a terminal sends to every process of the command, to
# the command, which says the stop in one line (each worker said "acga: interrupted while starting", or "terminated"
# when the command ended it, and then TensorFlow's start-up lines); any other stop ends it without a word. The command
# holds Ctrl-C back in the worker from its start (`convert._ctrl_c_held`: its traceback, in the 0.2 s before this line)
# until here, where it is ignored and let through.
SPAWNED_WORKER = __name__ == "__mp_main__"
if SPAWNED_WORKER and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
# Ctrl-C, SIGTERM and SIGHUP until the imports below are done; then the handlers Python had (for SIGINT,
# KeyboardInterrupt, which `main` reports). Only the main thread may set one (a test may import this module from
# another). A signal ignored stays ignored: SIGINT of a command a script started in the background (`acga ... &`),
# SIGHUP under `nohup`; SIGTERM and SIGHUP only where they have their default (which ended the command without a line).
_STOPS_BEFORE = {signum: signal.signal(signum, _interrupted_while_starting)
                 for signum in limits.STOP_SIGNALS if threading.current_thread() is threading.main_thread()
                 and not SPAWNED_WORKER and (signal.getsignal(signum) is not signal.SIG_IGN if signum == signal.SIGINT
                                             else signal.getsignal(signum) is signal.SIG_DFL)}

# First: the imports below load TensorFlow, whose start-up lines would reach stderr; its warnings too, unless the
# command line asks for detail (`-v`, `--debug`: parsed later, once TensorFlow is loaded).
native_log.import_tensorflow_quietly(warnings=any(arg in ("-v", "--verbose", "--debug")
                                                  for arg in sys.argv[1:sys.argv.index("--") if "--" in sys.argv
                                                                  else None]))

import keras
import tensorflow as tf
from tqdm import tqdm

from acga_tf.apps import app as app_module
from acga_tf.apps import batch
from acga_tf.apps import visualize as vis
from acga_tf.apps.app import check_address, page_address, serve
from acga_tf.apps.demo import DEMO_PRESET, RUN_FOLDER, UNLEARNT_MARGIN, finished_demo, run_demo
from acga_tf.apps.evaluate import evaluate, evaluate_checkpoints, format_table, run_checkpoints
from acga_tf.apps.predict import (
    frames_to_segment,
    job_record,
    overlay_color_name,
    predict_to_files,
    quoted,
)
from acga_tf.apps.predictors import is_server_url, load_predictor
from acga_tf.data.convert import prepare_from_args
from acga_tf.data.video import video_file_problem
from acga_tf.models.acga import ACGA, parameter_table
from acga_tf.models.config import ACGAConfig
from acga_tf.ops import files
from acga_tf.ops.config import closest_fields
from acga_tf.ops.devices import gpu_description
from acga_tf.ops.errors import error_message, sigterm_as_interrupt
from acga_tf.ops.progress import bar as progress_bar
from acga_tf.ops.progress import is_live, keras_verbosity
from acga_tf.ops.wording import counted
from acga_tf.serving.client import SIGNATURES, ServiceUnavailable
from acga_tf.serving.export import PROVENANCE_FILE, export_model
from acga_tf.training.artifacts import MODEL_FILE
from acga_tf.training.experiment import ExperimentConfig
from acga_tf.training.train import (
    BACKUP_DIR,
    BACKUP_METADATA_FILE,
    TrainingDiverged,
    fit,
    mixed_precision_policy,
    read_backup_metadata,
    run_folder,
)
from acga_tf.training.weights import TORCH_BUFFERS, convert_reference_checkpoint

for _signum, _handler in _STOPS_BEFORE.items():  # (a handler set outside Python reads as None: Python's own for SIGINT)
    signal.signal(_signum, signal.default_int_handler if _handler is None else _handler)


def _build_parser() -> argparse.ArgumentParser:
    """`acga`'s parser with every command's options (`command_options.build_parser`), each command's run attached."""
    parser, sub = command_options.build_parser()
    runs = {"demo": _run_demo, "params": _run_params, "prepare": _run_prepare, "convert-weights": _run_convert_weights,
            "predict": _run_predict, "visualize": _run_visualize, "export": _run_export, "train": _run_train,
            "evaluate": _run_evaluate, "app": _run_app}  # (read at each build: a test replaces one)
    for name, run in runs.items():
        sub.choices[name].set_defaults(run=run)
    return parser


# === params (issue: model) ===
def _model_config(args) -> ACGAConfig:
    """The model config of `--config`, read once (bash's `--config <(...)` is a pipe, which a second read found
    empty), as `acga train --config` reads it: ACGAConfig's fields, a run's experiment.json, or {"preset": NAME,
    <fields>} with training fields too; else of `--preset`."""
    if not args.config:
        return ACGAConfig.preset(args.preset or "paper")
    return ExperimentConfig.from_json(args.config).model


def _run_params(args) -> int:
    config = _model_config(args)
    overrides = _config_overrides(args.set)
    default = ExperimentConfig()
    others = sorted({name for part in (default.data, default.training) for name in part.field_names()}
                    - set(config.field_names()))
    for key in overrides:  # (it was ACGAConfig's message, pointing to a Python function: a command-line reviewer's)
        if key in others:
            raise ValueError(f"--set {key}: a field of the data or the schedule, not of the model whose parameters "
                             f"acga params counts (acga train --set {key}=... sets it)")
        if not hasattr(config, key) and not closest_fields([key], config.field_names()) and (
                hint := closest_fields([key], others)):  # `epoch`: the schedule's `epochs` mistyped
            raise ValueError(f"--set {key}: not a field of the model whose parameters acga params counts{hint}: a "
                             "field of the data or the schedule, which acga train --set sets")
    print(parameter_table(ACGA(config.replace(**overrides) if overrides else config)))
    return 0


# === prepare (issue: data pipeline) ===
def _run_prepare(args) -> int:
    for line in prepare_from_args(args):
        print(line)
    return 0


# === convert-weights (issue: model) ===
def _run_convert_weights(args) -> int:
    config = _model_config(args)
    report = convert_reference_checkpoint(args.checkpoint, args.output, config)
    # (those the reference holds beside ACGA's alone: anything else is refused)
    counters = sum(name.endswith(TORCH_BUFFERS) for name in report.unused_checkpoint)
    blocks = len(report.unused_checkpoint) - counters
    left = [part for part in (f"{counters} PyTorch BatchNorm counters" if counters else "",
                              f"{blocks} tensors of the reference I3D's blocks past Mixed_4f" if blocks else "")
            if part]
    print(f"loaded {len(report.loaded)} tensors from {args.checkpoint} -> {args.output}"
          + (f" (left out, as ACGA does not use them: {' and '.join(left)})" if left else ""))
    return 0


# === predict (issue: predict, deployment) ===
def _run_predict(args) -> int:
    if args.list is not None:
        return _run_predict_list(args)
    if (given := next((flag for flag, value in (("--output-dir", args.output_dir), ("--overlays", args.overlays),
                                                  ("--json", args.json or None)) if value is not None), None)):
        raise ValueError(f"{given}: goes with --list; for one video, --output, --frames-dir and --output-json")
    missing = [flag for flag, value in (("--video", args.video), ("--query", args.query)) if value is None]
    if missing:
        raise ValueError(f"give {' and '.join(missing)} (or --list FILE.csv for many videos)")
    output_json = _dash_as_stdout(args.output_json)  # (`| jq`, as evaluate's)
    text = sys.stderr if output_json and _is_stdout(output_json) else sys.stdout  # the summary: not into the JSON
    model = args.model
    if args.timeout is not None:
        if not is_server_url(args.model):
            raise ValueError(f"--timeout: {args.model} is not a TF Serving URL (http://... or grpc://...)")
        model = load_predictor(args.model, timeout=args.timeout)
    total = frames_to_segment(args.video, args.start, args.end)
    # delay: the bar is first drawn at a frame's end, so an error found before any frame is the only line printed.
    with progress_bar(total=total, unit="frame", desc="predict", disable=args.no_progress, file=sys.stderr,
                      delay=0.1) as bar:

        unwritten = [not (args.output or args.frames_dir or output_json)]

        def progress(frames: int) -> None:
            if unwritten[0]:  # said at the first frame, the inputs good, so that the work can be stopped
                # (not once the whole video is segmented)
                unwritten[0] = False
                logging.getLogger(__name__).warning("no --output, --frames-dir or --output-json: the masks will "
                                                    "only be summed up below, nothing written")
            bar.update(frames)

        def begin(kept: int) -> None:  # a stopped run's frames gone on from: the bar counts the rest
            # the inputs and outputs checked: a command refused (a PNG overlay of many frames) says that alone
            _no_sound_to_leave_out(args.no_audio, os.path.splitext(args.output)[1].lower() if args.output else None,
                                   "--output")
            if kept and bar.total is not None:
                bar.total = max(bar.total - kept, 1)

        summary = predict_to_files(model, args.video, args.query, output=args.output,
                                   frames_dir=args.frames_dir, batch_size=args.batch_size, progress=progress,
                                   start=args.start, end=args.end, audio=not args.no_audio,
                                   output_json=output_json, smooth_edges=args.smooth_edges,
                                   soft_masks=args.soft_masks, job=_masks_job(args, model, output_json),
                                   on_start=begin)
        if not is_live(sys.stderr):  # a log's bar, redrawn every 30 s: a shorter run would have no line, not even its
            bar.delay = 0  # final frames and speed; the bar then ends with them
        bar.total = bar.n  # its end at the frames segmented: a total estimated from the duration (Matroska), or
        # declared wrong by a damaged file, ended "1439/1440"
    written = f" -> {', '.join(summary.paths)}" if summary.paths else ""
    written = written.replace("/dev/stdout", "standard output") if args.output_json == "-" else written
    part = ""
    if args.start is not None or args.end is not None:
        part = (f", frames {summary.first + 1} to {summary.first + summary.num_frames} of the video "
                f"({summary.start_time:.2f} s to {summary.end_time:.2f} s"
                + (f"; masks {' to '.join(summary.mask_names)}" if summary.mask_names else "") + ")")
    elif summary.mask_names:  # a folder of frames: its masks' names (a phone's photos: IMG_2041.png, ...)
        part = f", masks {' to '.join(summary.mask_names)}"
    print(f"{counted(summary.num_frames, 'frame')} ({summary.width}x{summary.height}){part}{written}", file=text)
    several = len(summary.queries) > 1
    for k, (query, coverage, empty) in enumerate(zip(summary.queries, summary.coverage, summary.empty_frames)):
        # numbered as the legend and DIR/<k>/, the colour named (else a screen reader cannot pair them)
        number = f"{k + 1}. " if several else ""
        colour = f" ({overlay_color_name(k)} in the overlay)" if args.output and several else ""
        print(f"  {number}{quoted(query)}{colour}: mask covers {100 * coverage:.1f}% of pixels, empty in "
              f"{counted(len(empty), 'frame')}", file=text)
    return 0


def _masks_job(args, model, output_json: str | None) -> dict | None:
    """The `job_record` of a run of one video that writes masks alone (`--frames-dir`, no overlay, JSON, soft masks or
    part of the video) by a model known by its files or URL (`batch.model_identity`), which a stopped run's next run
    goes on with (docs/serving.md#a-video-stopped-mid-way); None for any other run."""
    if (not args.frames_dir or args.output or output_json or args.soft_masks or args.start is not None
            or args.end is not None or video_file_problem(args.video) is not None):
        return None
    load_predictor(model)  # first: a path that is not a model is refused before its files are fingerprinted (`--model
    # ~` walked the home folder); the predictor is kept, so `predict_to_files` does not load it again
    return job_record(args.video, args.query, batch.model_identity(model), smooth_edges=args.smooth_edges)


def _time_left(elapsed: float, frames_done: int, videos_done: int, frames: int, total: int | None,
               after: int) -> float | None:
    """Seconds a list has left (`_run_predict_list`): `elapsed` seconds segmented `frames_done` frames of
    `videos_done` videos and `frames` of the video being segmented (of `total`, where known), and `after` videos come
    after it: the time a frame has taken, times the frames left (this video's, and the videos done's mean for each
    video after it). None before a video is done."""
    if not frames_done or not videos_done:
        return None
    mean = frames_done / videos_done
    return elapsed / (frames_done + frames) * (max((total or mean) - frames, 0) + mean * after)


def _duration(seconds: float) -> str:
    """"40 s", "12 min", "3 h 05 min": a time left, to the precision it has."""
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def _no_sound_to_leave_out(no_audio: bool, overlay: str | None, flag: str) -> None:
    """Warns of a `--no-audio` given where no MP4 overlay is written (only an MP4 carries sound): it was taken
    without a word (a reviewer's). Said once the command is checked, so that a refused one (a PNG overlay of many
    frames; a list whose model or folder is refused, `batch.predict_list`'s on_start) says its refusal alone (the
    warning came first)."""
    if no_audio and overlay in (None, ".gif", ".png"):  # (another is refused as a format: said there alone)
        logging.getLogger(__name__).warning("--no-audio: only an MP4 overlay has sound; %s", f"none with a {overlay} "
                                            f"overlay" if overlay else f"no overlay is written (no {flag})")


def _run_predict_list(args) -> int:
    given = [flag for dest, flag, default in args.single_video_options if getattr(args, dest) != default]
    if given:
        raise ValueError(f"--list: {', '.join(given)} cannot go with it (the list names the videos and sentences; "
                         "--output-dir the folder)")
    if args.output_dir is None:
        raise ValueError("--list: give --output-dir, the folder to write")
    if args.timeout is not None and not is_server_url(args.model):
        raise ValueError(f"--timeout: {args.model} is not a TF Serving URL (http://... or grpc://...)")
    rows = batch.read_list(args.list)
    model = load_predictor(args.model, timeout=args.timeout) if args.timeout is not None else args.model
    videos = len({row.path for row in rows if row.path})  # a row without a video is no video
    # A bar per video, of its frames (a long video's minutes), named by its number in the list; in a terminal it
    # goes when its video is done (results.csv and each summary.json keep the times), in a log it stays.
    bars: list[tqdm] = []
    # Once a video is done, each bar also says how long the whole list has left (a batch tester's overnight list
    # said only the video's): the time a frame has taken so far, times the frames left (this video's, and as many
    # as the videos done had on average for each video after it).
    done = {"began": None, "frames": 0, "videos": 0, "after": 0}

    def video_started(row, number: int, frames: int | None):
        video_done()
        if done["began"] is None:
            done["began"] = time.monotonic()
        done["after"] = videos - number  # (the videos after this one)
        bar = progress_bar(total=frames, unit="frame", desc=f"predict video {number} of {videos}",
                           disable=args.no_progress, file=sys.stderr, delay=0.1, leave=not is_live(sys.stderr))
        bars.append(bar)

        def step(count: int) -> None:
            bar.update(count)
            if (left := _time_left(time.monotonic() - done["began"], done["frames"], done["videos"], bar.n,
                                   bar.total, videos - number)) is not None:  # (none left: nothing said, where the
                # list's last frame said "about 1 s left in all", a tester's)
                bar.set_postfix_str(f"about {_duration(left)} left in all" if left >= 0.5 else "", refresh=False)

        return step

    def video_done(row=None, group=()):
        while bars:
            bar = bars.pop()
            done["frames"], done["videos"] = done["frames"] + bar.n, done["videos"] + bool(bar.n)
            if bar.n and not is_live(sys.stderr):  # a log's bar (redrawn every 30 s) ends with its video's frames and
                bar.delay = 0  # speed: else a video under 30 s has no line at all, as predict's (a video refused
                # before its first frame keeps its delay: its warning says why, not "0/? frames" after it)
            if any(result.status == "done" for result in group):
                bar.total = bar.n  # its end at the frames segmented (a total estimated from the duration: predict's)
                if getattr(bar, "postfix", None) is not None:  # and the time left said again with it (the list's
                    # last video ended "about 4 s left in all" where its total had been too large: a reviewer's)
                    left = _time_left(time.monotonic() - done["began"], done["frames"] - bar.n, done["videos"] - 1,
                                      bar.n, bar.n, done["after"])  # (as `step` said it at its last frame)
                    bar.set_postfix_str(f"about {_duration(left)} left in all" if left and left >= 0.5 else "",
                                        refresh=False)
            bar.close()

    try:
        results = batch.predict_list(model, rows, args.output_dir, overlay=args.overlays, audio=not args.no_audio,
                                     batch_size=args.batch_size,
                                     model_name=args.model if is_server_url(args.model) else None,
                                     smooth_edges=args.smooth_edges, masks_json=args.json, soft_masks=args.soft_masks,
                                     frames=video_started, progress=video_done,
                                     # once nothing can refuse the whole list (its model, its folder): one refused
                                     # says that alone, as one video's does
                                     on_start=lambda: _no_sound_to_leave_out(args.no_audio, args.overlays
                                                                             and "." + args.overlays, "--overlays"),
                                     list_path=args.list)
    finally:
        video_done()
    counts = collections.Counter(r.status for r in results)
    table = os.path.join(args.output_dir, batch.RESULTS_NAME)
    # rows first: "3 videos, 4 rows: 3 done" reads as 3 videos done where 2 of 3 were
    print(f"{counted(len(results), 'row')} of {counted(videos, 'video')}: " + ", ".join(
        f"{counts[s]} {s}" for s in ("done", "done earlier", "failed") if counts[s]) + f" -> {table}")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        lines = ", ".join(str(r.row.line) for r in failed[:10]) + (", ..." if len(failed) > 10 else "")
        lines = ("lines " if len(failed) > 1 else "line ") + lines
        raise ValueError(f"{len(failed)} of {len(results)} rows failed ({lines}; the first: {failed[0].message}); "
                         f"{table} says why for each")
    return 0


# === visualize (issue: predict) ===
def _run_visualize(args) -> int:
    vis.figure_format(args.output)  # before the work
    files.check_not_input(args.output, vis.figure_inputs(args.model, args.video), "--output")
    files.check_writable(args.output)
    if args.sample and not args.data:
        raise ValueError("--sample picks a qualitative grid's rows: give --data PATTERN with it")
    if args.sample and args.samples is not None:  # (--samples was left unused without a word)
        raise ValueError(f"--samples {args.samples} and --sample: --sample picks the rows (one a sample id); give "
                         "one of them")
    if args.samples is not None and not args.data:
        raise ValueError(f"--samples {args.samples}: the rows of a qualitative grid; give --data PATTERN with it")
    if args.data and (given := [flag for flag, value in (("--video", args.video), ("--query", args.query),
                                                          ("--point", args.point), ("--frame", args.frame))
                                 if value is not None]):  # (passed over: the grid drawn, a reviewer's)
        raise ValueError(f"{', '.join(given)}: {'go' if len(given) > 1 else 'goes'} with the attention figure, "
                         "--data with the qualitative grid; give one figure's options")
    if args.data:
        fig = vis.qualitative_grid(args.model, args.data, args.samples or 4, sample_ids=args.sample)
        for r, (sample_id, sentence, iou) in enumerate(fig.samples):  # the rows in words, by the ids --sample takes
            print(f"row {r + 1}: {sample_id} {quoted(sentence)}: IoU {iou:.2f}")
    elif args.video and args.query is not None and args.point:
        try:
            point = tuple(float(v) for v in args.point.split(","))
        except ValueError:
            point = ()
        if len(point) != 2:
            raise ValueError(f"--point {args.point!r}: expected X,Y (two numbers)")
        if not all(math.isfinite(v) and v >= 0 for v in point):  # before the model loads (the frame's size after)
            raise ValueError(f"--point {args.point!r}: a pixel of the frame, X,Y from 0 (its top-left corner)")
        maps = vis.compute_attention(args.model, args.video, args.query, frame=args.frame)
        fig = vis.attention_figure(maps, point)
        for line in maps.describe(*point):  # the figure in words (for a screen reader)
            print(line)
    else:
        raise ValueError("give --data PATTERN (qualitative grid) or --video, --query and --point (attention figure)")
    print(f"wrote {vis.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


# === export (issue: serving) ===
def _run_export(args) -> int:
    path = export_model(args.model, args.output, warmup=not args.no_warmup, float32=args.float32,
                        host_paths=not args.no_host_paths)
    precision = files.read_json(os.path.join(path, PROVENANCE_FILE)).get("precision")
    slower = (" as the run trained; on a CPU without bfloat16 units (AMX or AVX512-BF16) --float32 exports a faster "
              "one" if precision and "bfloat16" in precision else "")
    print(f"exported {args.model} -> {path} (computes in {precision}{slower}; signatures: {', '.join(SIGNATURES)})")
    return 0


# === train (issue: training) ===
def _config_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def _run_train(args) -> int:
    if not args.data:
        raise ValueError("--data is required: a glob of training shards written by `acga prepare`")
    experiment = ExperimentConfig.from_json(args.config) if args.config else ExperimentConfig.preset(args.preset)
    overrides = _config_overrides(args.set)
    for flag, field in (("--epochs", "epochs"), ("--steps-per-epoch", "steps_per_epoch"),
                        ("--batch-size", "batch_size")):  # the flag won, silently, over a sweep's --set
        given = getattr(args, field)
        if given is not None and field in overrides and overrides[field] != given:
            raise ValueError(f"{flag} {given} and --set {field}={json.dumps(overrides[field])} disagree: give one")
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    experiment = experiment.override(**overrides)
    folder = run_folder(args.output)
    backup = os.path.join(folder, BACKUP_DIR, BACKUP_METADATA_FILE)
    stopped = os.path.isfile(backup) and not os.path.exists(os.path.join(folder, MODEL_FILE))
    if (args.resume and args.mixed_precision is None) or (args.mixed_precision == "auto" and not args.overwrite
                                                          and (args.resume or stopped)):
        # the run's own precision (else refused, naming the flag: a demo run, say, trained in mixed_bfloat16_head);
        # `auto` timed the CPU again, and could pick another, for --resume and the same command after a stop alike
        # (a finished run without --resume is refused by `fit`, and said nothing of its precision first)
        recorded = (read_backup_metadata(backup) or {}).get("precision")
        if (recorded == "mixed_float16" and gpu_description() is None
                and keras.backend.backend() == "tensorflow"):  # else each refusal named the other's flag (JAX trains
            # float16 on a CPU)
            raise ValueError(f"{backup}: the run trained in mixed_float16, which TensorFlow runs on a GPU only: "
                             "resume it on a machine with one, or pass --overwrite to start over in another precision")
        if recorded is not None and (recorded != "float32" or args.mixed_precision == "auto"):
            print(f"mixed precision: {recorded} (the run's, which a resume keeps)")
            args.mixed_precision = None if recorded == "float32" else recorded
    if args.mixed_precision == "auto":
        policy, reason = mixed_precision_policy()
        print(f"mixed precision: {policy} ({reason})")
        args.mixed_precision = policy
    history = fit(experiment, args.data, args.output, val_pattern=args.val_data, vectors_path=args.word_vectors,
                  epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                  mixed_precision=args.mixed_precision or False, feature_cache=args.feature_cache,
                  backup_every=args.backup_every, resume=args.resume, overwrite=args.overwrite,
                  init_weights=args.init_weights, verbose=2 if args.no_progress else keras_verbosity(sys.stdout))
    print(f"{_epochs_trained(history)} -> {run_folder(args.output)}")  # a worker's own folder under TF_CONFIG
    return 0


def _epochs_trained(history) -> str:
    """What `fit` did, in the run's own epoch numbers: "trained epochs 1 to 2 of 2, final loss ...", after a resume
    "trained epoch 3 of 3, ..." (not "trained 1 epoch(s)", which reads as the run's total)."""
    if not history.epoch:  # a run stopped between its last step and its save: the resume only saved it
        return "no epoch left to train: the run had made its last step, now saved"
    first, last = history.epoch[0] + 1, history.epoch[-1] + 1
    total = (history.params or {}).get("epochs", last)
    losses = history.history.get("loss")
    return (f"trained epoch{'s' if last > first else ''} {first}{f' to {last}' if last > first else ''} of {total}"
            + (f", final loss {losses[-1]:.4f}" if losses else ""))


# === evaluate (issue: training) ===
def _run_evaluate(args) -> int:
    # "-": standard output (`--output-json - | jq .`), the table then on stderr (as Unix tools read "-"); the
    # same for an output that names standard output's file
    if args.output_csv == "-" and args.output_json == "-":
        raise ValueError("--output-csv and --output-json are both '-': one of them may go to standard output")
    output_csv, output_json = map(_dash_as_stdout, (args.output_csv, args.output_json))
    # `--output-json /dev/stdout > f`: the table was written over the JSON's first bytes
    to_stdout = any(_is_stdout(path) for path in (output_csv, output_json) if path)
    table = sys.stderr if to_stdout else sys.stdout
    checkpoints = run_checkpoints(args.model)
    if not checkpoints:
        summary = evaluate(args.model, args.data, batch_size=args.batch_size, output_csv=output_csv,
                           vectors_path=args.word_vectors, progress=not args.no_progress, output_json=output_json,
                           by_class=args.by_class)
        print(format_table(summary), file=table)
        if args.by_class:
            _print_by_class(summary["by_class"], table)
        return 0
    for flag, given, what in (("--output-csv", args.output_csv, "rows, sample by sample"),
                              ("--by-class", args.by_class, "scores by class")):
        if given:
            raise ValueError(f"{flag}: one model's {what}; {args.model} holds "
                             f"{counted(len(checkpoints), 'checkpoint')}: give one of them (epoch-NN.keras) for its "
                             f"{what.split(',')[0]}")
    summaries = evaluate_checkpoints(args.model, args.data, batch_size=args.batch_size, vectors_path=args.word_vectors,
                                     progress=not args.no_progress, output_json=output_json)
    print(format_table(summaries), file=table)
    best = max(summaries, key=lambda name: summaries[name]["mean_iou"])
    print(f"best mean IoU: {best} ({100 * summaries[best]['mean_iou']:.1f})", file=table)
    return 0


def _print_by_class(by_class: dict, table) -> None:
    """`acga evaluate --by-class`'s tables, by actor and by action, or why there are none."""
    if not by_class["actor"]:
        print("\nNo sample records its A2D class (J-HMDB, your own data, or shards converted before 2026-12-06, late "
              "morning: `acga prepare a2d` into a new --output records it; docs/evaluation.md#by-class)", file=table)
        return
    for kind in ("actor", "action"):
        print(f"\nBy {kind} (A2D's {kind} classes; docs/evaluation.md#by-class):", file=table)
        print(format_table(by_class[kind], first=kind), file=table)
    if by_class["unknown"]:
        one = by_class["unknown"] == 1
        print(f"\n{counted(by_class['unknown'], 'sample')} {'records' if one else 'record'} no class and "
              f"{'is' if one else 'are'} in neither table (J-HMDB or your own data, A2D "
              "frames whose .h5 has no usable id, or shards converted before 2026-12-06, late morning)", file=table)


# === demo (issue: product) ===
def _run_demo(args) -> int:
    try:
        result = run_demo(args.output, n_videos=args.videos, epochs=args.epochs, seed=args.seed,
                          mixed_precision=args.mixed_precision,
                          verbose=2 if args.no_progress else keras_verbosity(sys.stdout),
                          progress=not args.no_progress, overwrite=args.overwrite)
    except KeyboardInterrupt:  # not what `acga train` says: the demo trains its run over (it owns its folder)
        if finished_demo(args.output) and not args.overwrite:  # trained: the same command is refused
            raise KeyboardInterrupt(f"{os.path.join(args.output, RUN_FOLDER)} is trained; the same command with "
                                    f"--overwrite starts the demo over in {args.output}") from None
        raise KeyboardInterrupt(f"the same command starts the demo over in {args.output}") from None
    c, n = result.experiment.model, result.experiment.training.epochs
    print(f"\nACGA ({DEMO_PRESET} preset, T={c.clip_length}, S={c.image_size}, {counted(n, 'epoch')}, "
          f"{result.precision[0]}) on the held-out synthetic clips, the paper's evaluation protocol:")
    print(format_table(result.summary))
    print("\nText-blind reference (every actor of the frame predicted perfectly) on the same samples:")
    print(format_table(result.all_actors_summary))
    print("\nACGA's mean IoU by what a sentence needs to single out its actor:")
    for count in (1, 2, 3):
        groups = {k: v for k, v in result.by_attributes.items() if len(k) == count}
        samples = sum(n for n, _ in groups.values())
        if samples:
            mean_iou = sum(n * m for n, m in groups.values()) / samples
            print(f"  {count} attribute{'s' if count > 1 else ''}: {100 * mean_iou:.1f} ({samples} samples)")
            for names, (n, m) in groups.items():
                print(f"      {' + '.join(names)}: {100 * m:.1f} ({n})")
    if result.unlearnt:
        print(f"\nNot learnt by this run (sentences that name only it score less than {100 * UNLEARNT_MARGIN:.0f} "
              f"points above the text-blind reference, {100 * result.all_actors_summary['mean_iou']:.1f}): "
              + ", ".join(f"{k} {100 * v:.1f}" for k, v in result.unlearnt.items())
              + ". Which attributes a run learns turns on rounding and on training length (docs/demo.md#runs-vary): "
              "another --seed, --mixed-precision or more --epochs may learn them.")
    print(f"\ntrained in {result.precision[0]}: {result.precision[1]}")
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
          + f" (total {sum(result.timings.values()):.0f})")
    print("wrote:")
    for name, path in result.paths.items():
        print(f"  {name:<16} {path}")
    return 0


# === app (issue: deployment) ===
def _run_app(args) -> int:
    check_address(args.host, args.port)  # before loading the model
    logging.getLogger(app_module.__name__).setLevel(logging.INFO)  # a line per request, as a server's log has
    serve(args.model, host=args.host, port=args.port, max_frames=args.max_frames, max_upload_mb=args.max_upload_mb,
          max_pixels=args.max_pixels, max_sentences=args.max_sentences,
          ready=lambda: print(f"serving {args.model} at {page_address(args.host, args.port)} (Ctrl+C stops it)",
                              flush=True))
    return 0


# What each command runs, given its parsed options (`args.run`).
# Errors a user can cause (bad arguments, files, data): one line and exit status 2. `--debug` shows the traceback.
USER_ERRORS = (ValueError, OSError, ImportError, KeyError, tf.errors.OpError, TrainingDiverged, MemoryError)
# A model server that failed for now (unreachable, too slow, HTTP 5xx): one line and status 69, sysexits'
# EX_UNAVAILABLE, so that a script tells a retry from a mistake (docs/serving.md#errors).
EXIT_UNAVAILABLE = 69
# EX_TEMPFAIL: another run is writing the output now; the same command may succeed once it has ended.
EXIT_TEMPFAIL = 75


def main(argv: list[str] | None = None) -> int:
    """Runs the `acga` command; returns the exit status."""
    if (mask := _umask()) & 0o600:  # Keras, TensorFlow and the command itself read back the files they write
        print(f"acga: error: umask {mask:04o} takes the owner's read or write permission off every file a command "
              "writes, so it cannot read back its own (temporary) files: set umask 022 or 077", file=sys.stderr)
        return 2
    if sys.stdout is None:  # started with stdout closed (`>&-`): print() drops every line, a table or result too
        if sys.stderr is not None:
            print(f"acga: error: {limits.CLOSED_STDOUT}", file=sys.stderr)
        return 2
    if (unread := _unread_argument(sys.argv[1:] if argv is None else argv)) is not None:
        print(f"acga: error: the argument {unread!r} holds bytes that Python reads here in "
              f"{sys.getfilesystemencoding()}, not UTF-8; {files.UTF8_HINT}", file=sys.stderr)
        return 2
    args = _build_parser().parse_args(argv)
    if args.command == "prepare" and getattr(args, "dataset", None):  # as argparse names it: `acga prepare a2d`
        args.command = f"prepare {args.dataset}"
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format=native_log.LOG_FORMAT)
    tf.get_logger().handlers.clear()  # TensorFlow's own handler printed each of its records a second time
    for line in native_log.held_lines():
        logging.getLogger(__name__).info("no usable GPU, running on the CPU: %s", line)
    with sigterm_as_interrupt() as terminated, _stdout_named(), options.command_line():
        try:
            code = int(args.run(args) or 0)
            sys.stdout.flush()  # here, where a failure is reported, not in Python's exit
            return code
        except Exception as e:
            if terminated.is_set() and not args.debug:  # a stop that struck inside a C extension surfaced as its
                # error: a Ctrl-C while TensorFlow traced the model was "SystemError: Objects/listobject.c:338: bad
                # argument to internal function" with a traceback and status 1 (a shell loop went on)
                return _stopped(args, terminated, "; ".join(getattr(e, "__notes__", ())))
            if not isinstance(e, USER_ERRORS):
                raise
            if args.debug and sys.stderr is not None:  # the traceback, then the one line and the status a run
                with contextlib.suppress(OSError):  # without --debug gives
                    traceback.print_exc()
            if isinstance(e, BrokenPipeError) and _stdout_closed():  # `acga ... | head`: the reader had enough
                return 128 + signal.SIGPIPE  # as a shell reports a command that SIGPIPE ended
            with contextlib.suppress(OSError):  # stderr closed (`2>&-`): the status alone says it
                if sys.stderr is not None:  # None where Python started without it (print would write to stdout)
                    print(f"acga {args.command}: error: {_out_of_memory(e, args)}{_one_line(e)}", file=sys.stderr)
            if isinstance(e, files.OutputInUse):
                return EXIT_TEMPFAIL
            return EXIT_UNAVAILABLE if isinstance(e, ServiceUnavailable) else 2
        except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: what was kept, if the job says, and the shell's status
            if args.debug:
                raise
            return _stopped(args, terminated, str(e))


def _stopped(args, terminated, kept: str) -> int:
    """Reports a command stopped by Ctrl-C, SIGTERM or SIGHUP in one line with what was `kept`; its exit status."""
    signum = terminated.signum or signal.SIGINT
    with contextlib.suppress(OSError):
        if sys.stderr is not None:
            print(f"{_after_caret_c()}acga {args.command}: {_stopped_by(signum)}" + (f": {kept}" if kept else ""),
                  file=sys.stderr)
    return 128 + signum


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unread_argument(argv: list[str]) -> str | None:
    """The first argument holding bytes Python could not decode (kept as lone surrogates: the C locale without UTF-8
    mode), as UTF-8 would read it; None where there is none. Such a file name was "not found", a sentence "not valid
    Unicode", a folder "'utf-8' codec can't encode characters": none said why."""
    for argument in argv:
        if any(0xDC80 <= ord(c) <= 0xDCFF for c in argument):
            return argument.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return None


class _NamedStdout:
    """Standard output during a command: a write that fails names it. Python's error names no file, so `> out.txt` on a
    full disk would end `acga predict` with "[Errno 28] No space left on device" alone, its masks written.
    Everything else is the stream's own."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def write(self, text: str) -> int:
        with _naming_stdout():
            return self.stream.write(text)

    def flush(self) -> None:
        with _naming_stdout():
            self.stream.flush()


@contextlib.contextmanager
def _naming_stdout() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:  # `acga ... | head`: told apart by `main`
        raise
    except OSError as e:
        if e.errno is None or e.filename is not None:
            raise
        raise OSError(e.errno, e.strerror, "standard output") from None


@contextlib.contextmanager
def _stdout_named() -> Iterator[None]:
    """`_NamedStdout` for the block (where there is a standard output)."""
    if sys.stdout is None or isinstance(sys.stdout, _NamedStdout):
        yield
        return
    stream = sys.stdout = _NamedStdout(sys.stdout)
    try:
        yield
    finally:
        if sys.stdout is stream:
            sys.stdout = stream.stream


def _stdout_closed() -> bool:
    """Whether stdout is a pipe its reader closed; if so, it is pointed at os.devnull, so that Python's own flush at
    exit does not print "Exception ignored ... BrokenPipeError" (the recipe of Python's `signal` documentation)."""
    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        broken = any(events & select.POLLERR for _, events in poll.poll(0))  # a pipe whose reader closed it
    except (OSError, ValueError, AttributeError):  # no file descriptor (a notebook's stream), or no poll (Windows)
        return False
    if broken:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return broken


def _dash_as_stdout(path: str | None) -> str | None:
    """An output given as "-" → "/dev/stdout" (written into as it is, `files.output_path`); others as given."""
    return "/dev/stdout" if path == "-" else path


def _is_stdout(path: str) -> bool:
    """Whether `path` names the file standard output is (`/dev/stdout`, `/proc/self/fd/1`, or the file `>` sent it
    to)."""
    try:
        named, out = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no such file, or stdout without a descriptor (a notebook's)
        return False
    return (named.st_dev, named.st_ino) == (out.st_dev, out.st_ino)


def _out_of_memory(error: BaseException, args) -> str:
    """"out of memory at --batch-size 1024 (a smaller one needs less): " where `error` is NumPy's or TensorFlow's
    (so that `--batch-size 1024` ends in this line, not a Python traceback), "out of memory: " for another command,
    else ""."""
    if not isinstance(error, MemoryError) and not (isinstance(error, tf.errors.ResourceExhaustedError)
                                                   and "OOM" in str(error)):  # (also a full disk's status)
        return ""
    size = getattr(args, "batch_size", None)
    return (f"out of memory at --batch-size {size} (a smaller one needs less){limits.memory_limit_hint()}: " if size
            else f"out of memory{limits.memory_limit_hint()}: ")


MESSAGE_CHARACTERS = 2000  # an error line's most (a TensorFlow message can quote a whole tensor)


def _one_line(error: BaseException) -> str:
    """The error's message on one line (TensorFlow's op errors carry a multi-line traceback of the graph), followed
    by its notes (`BaseException.add_note`: what the job had done and kept)."""
    message = error_message(error) if isinstance(error, tf.errors.OpError) else str(error)
    if isinstance(error, OSError) and error.filename and str(error.filename) not in message:
        message = f"{error.filename}: {message}"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    notes = "".join(f"; {note}" for note in getattr(error, "__notes__", ()))  # e.g. what a job kept
    if isinstance(error, OSError):
        try:
            os.getcwd()
        except FileNotFoundError:  # a relative path's error named no file: "[Errno 2] No such file or directory"
            notes += "; the current folder no longer exists (deleted?): cd into one that does, or give absolute paths"
    line = lines[0] if lines else type(error).__name__
    if len(line) > MESSAGE_CHARACTERS:  # a path thousands of characters long: its middle goes, not the reason at
        # the end (a tester's 3,783-byte folder left a line that ended mid-path, saying nothing of what was wrong)
        head = MESSAGE_CHARACTERS // 4
        line = f"{line[:head]} [...] {line[-(MESSAGE_CHARACTERS - head - len(' [...] ')):]}"
    return line + notes


def run() -> None:
    """The `acga` command (and `python -m acga_tf`): `main`, then its exit status; a command stopped by Ctrl-C or
    SIGTERM ends by that signal (`end_by_signal`), so that a shell loop of commands stops too."""
    code = main()
    if code - 128 in limits.STOP_SIGNALS:
        end_by_signal(code - 128)
    sys.exit(code)


if __name__ == "__main__":
    run()
