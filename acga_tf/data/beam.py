"""The converter as an Apache Beam pipeline (`acga prepare ... --runner beam`).

The same shards as the local converter (`acga_tf.data.convert`): the shard plan is made on the driver, each shard
is one Beam element written by `shards.write_shard` (temporary name, rename, completion marker), so the bytes
do not depend on the runner or its parallelism. Each execution of a shard writes under temporary names of its
own, so a runner that runs one shard twice at once (a retried bundle) leaves one whole shard and its marker. The
driver then reads the completion markers to write the manifest. Paths reach the workers of a runner other than
DirectRunner absolute; the input and output folders must be visible to the driver and every Beam worker, at the
same path (DirectRunner: local disk).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
from typing import Any, Iterator, Sequence

from acga_tf.data import beam_worker
from acga_tf.data.shards import MARKER_DIR, ShardTask, unique_suffix, write_shard
from acga_tf.ops import files, native_log
from acga_tf.ops.config import closest_pairs
from acga_tf.ops.extras import install_hint
from acga_tf.ops.limits import STOP_SIGNALS
from acga_tf.ops.options import option

BEAM_OPTION = ("--beam-option", "beam_options")
DIRECT_RUNNERS = ("SwitchingDirectRunner", "BundleBasedDirectRunner", "DirectRunner", "FnApiRunner")  # this machine's
# What DirectRunner's multi-processing workers print on the stderr they share with the command before they have read
# their options (`_quiet_workers`): Beam's notice, at its import, that the BigQuery client is absent (the notice
# `_imported` keeps off the command's own stderr), and the INFO lines of their start, in Python's default log format
# ("INFO:__main__:Logging handler created."; the command's own are "INFO name: message")
BEAM_NOTICE = rb"WARNING:root:apitools not found, "
WORKER_INFO = rb"(?:INFO|DEBUG):[\w.]+:"
# Beam's words for a worker whose `sh -c` a stop ended (`_stopped_workers_unsaid`)
STOPPED_WORKER = re.compile(r"Worker subprocess exited with return code -(\d+)")


def error_path(task: ShardTask) -> str:
    """Where a Beam worker records the error that stopped its shard, for the driver to raise."""
    return os.path.join(task.output_dir, MARKER_DIR, task.name + ".error.json")


def _write_and_record(task: ShardTask) -> str:
    """Beam step: writes one shard; a DataError (without skip_bad) or an OSError (a full disk, a folder where the
    shard goes) is recorded for the driver to raise: Beam wraps what a step raises in a RuntimeError of its own
    (a traceback of 157 lines, where the local runner said what was kept: a reviewer's), and a worker process's
    reaches the driver as text."""
    suffix = unique_suffix()
    try:
        result = write_shard(task, suffix=suffix)
    except OSError as e:
        result = {"name": task.name, "os_error": [e.errno, e.strerror, e.filename]}
    if "error" in result or "os_error" in result:
        files.write_json(error_path(task), result, suffix=suffix)
    return task.name


def _absolute(task: ShardTask) -> ShardTask:
    """`task` with its output folder and input files as absolute paths: a cluster's workers do not run in the
    driver's folder (where a relative `--root` was read)."""
    def frame(f):
        return dataclasses.replace(f, frames_path=_path(f.frames_path), mask_path=_path(f.mask_path), referrals=tuple(
            dataclasses.replace(r, mask=_path(r.mask)) for r in f.referrals))
    return dataclasses.replace(task, output_dir=os.path.abspath(task.output_dir),
                               items=tuple(frame(f) for f in task.items))


def _path(path: str) -> str:
    return os.path.abspath(path) if path and "://" not in path else path


def worker_tasks(tasks: Sequence[ShardTask], options: Any) -> list[ShardTask]:
    """The tasks as Beam's workers get them: as given for the direct runners (their workers run in this folder, and
    the shards' markers and `skipped.csv` name the files as the local runner does); with absolute paths for any
    other runner (`_absolute`)."""
    return list(tasks) if _runner_name(options) in DIRECT_RUNNERS else [_absolute(task) for task in tasks]


def _runner_name(options: Any) -> str:
    """The class of the runner `options` name (Beam's name for it, or a runner class's path), DirectRunner where
    they name none."""
    _, _, StandardOptions, create_runner = _imported()
    return type(create_runner(options.view_as(StandardOptions).runner or "DirectRunner")).__name__


@contextlib.contextmanager
def _own_temporary_folder():
    """The system's temporary folder, for this process and the processes it starts, is a folder of its own until the
    block ends, then removed with what it holds."""
    folder = tempfile.mkdtemp(prefix="acga-beam-")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    try:
        yield folder
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        shutil.rmtree(folder, ignore_errors=True)


def _multi_processing(options: Any) -> bool:
    """Whether `options` run DirectRunner in its multi-processing mode: worker processes of this machine, started by
    Beam (`python -m apache_beam.runners.worker.sdk_worker_main`), which write on the command's stderr. Another
    runner given `--direct_running_mode` (Flink's, Dataflow's) passes it over, and its workers get nothing of ours."""
    return _runner_name(options) in DIRECT_RUNNERS and \
        options.get_all_options(retain_unknown_options=True).get("direct_running_mode") == "multi_processing"


def worker_options(beam_options: Sequence[str]) -> list[str]:
    """The options DirectRunner's multi-processing workers get beside `beam_options`, through the settings Beam
    offers its workers: `--beam_plugins` with `beam_worker` (which Beam imports in each worker at its start: the
    worker ignores Ctrl-C, and the command ends it; its log lines are the command's), and
    `--default_sdk_harness_log_level` (a worker logs at INFO by default: 116 lines of their start and end for a run
    of two splits, on the command's stderr and again through the command's log) at WARNING, Beam's own loggers at
    ERROR (`--sdk_harness_log_level_overrides`), so that the conversion's own warnings (a video's odd display
    matrix, a damaged packet) are said as the other runners say them (a reviewer's: at ERROR they were lost), or
    all at INFO where the command logs at INFO (`acga -v`); levels the options give are kept.
    docs/data.md#conversion."""
    extra = [f"--beam_plugins={beam_worker.__name__}"]
    given = {o.split("=")[0] for o in beam_options}
    verbose = logging.getLogger("apache_beam").isEnabledFor(logging.INFO)
    if "--default_sdk_harness_log_level" not in given:
        extra.append(f"--default_sdk_harness_log_level={'INFO' if verbose else 'WARNING'}")
    if "--sdk_harness_log_level_overrides" not in given and not verbose:  # (a worker's own module is "__main__")
        extra.append('--sdk_harness_log_level_overrides={"apache_beam": "ERROR", "__main__": "ERROR"}')
    return extra


@contextlib.contextmanager
def _stopped_workers_unsaid() -> Iterator[None]:
    """Within the block, a Beam thread's error saying that a worker's process ended by a signal that stops the command
    is not printed (the others are): Beam starts each worker through `sh -c`, which a Ctrl-C (the terminal sends it
    to every process of the command) ends whatever the worker does (it ignores it: `beam_worker`), as a SIGTERM sent
    to them all ends both; each of Beam's threads then printed "Worker subprocess exited with return code -2" (or
    -15) and its traceback, where the command says the stop in one line."""
    stops = {int(signum) for signum in STOP_SIGNALS}
    previous = threading.excepthook

    def hook(args) -> None:
        said = STOPPED_WORKER.fullmatch(str(args.exc_value)) if args.exc_type is RuntimeError else None
        if said is None or int(said.group(1)) not in stops:
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


@contextlib.contextmanager
def _stops_to_the_main_thread() -> Iterator[None]:
    """Within the block, a stop (Ctrl-C, SIGTERM, SIGHUP: signals this process handles) that one of Beam's threads
    took is sent on to the main thread, where Python raises it. The kernel gives a signal sent to the process to any
    of its threads; Python's handler runs in the main thread alone, once it wakes, and there Beam waits on a worker's
    answer without a time limit: a SIGTERM sent to every process of a multi-processing run (a scheduler's) ended the
    workers, and the command, whose main thread the signal had missed, waited for them forever (4 runs in 6). Python
    writes each signal's number to a pipe (`signal.set_wakeup_fd`), whichever thread takes it; a thread of ours reads
    it and, where the handler has not run yet, signals the main thread at once, which wakes and stops as it would have
    (docs/data.md#conversion): at once, since Beam's threads that read from the workers print their tracebacks once
    they find their connections gone (220 lines where it waited 0.2 s). Where the main thread took the signal too, the
    copy is passed over. Off the main thread, or where the pipe is another's (an event loop's): nothing."""
    main = threading.current_thread() is threading.main_thread()
    stops = [s for s in STOP_SIGNALS if main and callable(signal.getsignal(s))]
    if not stops or not hasattr(signal, "pthread_kill"):
        yield
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    if (other := signal.set_wakeup_fd(write, warn_on_full_buffer=False)) != -1:
        signal.set_wakeup_fd(other)
        os.close(read)
        os.close(write)
        yield
        return
    handled: set[int] = set()
    forwarded: set[int] = set()
    handlers = {s: signal.getsignal(s) for s in stops}

    def handler(signum, frame):
        if signum in handled and signum in forwarded:  # the copy, where the main thread had taken the stop itself
            forwarded.discard(signum)
            return
        handled.add(signum)
        handlers[signum](signum, frame)

    def forward() -> None:
        while taken := os.read(read, 64):
            for signum in taken:
                if signum in handlers and signum not in handled:
                    forwarded.add(signum)
                    signal.pthread_kill(threading.main_thread().ident, signum)

    for signum in stops:
        signal.signal(signum, handler)
    watcher = threading.Thread(target=forward, name="acga-beam-stops", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
        os.close(write)  # (the thread reads the end of the pipe, and ends)
        watcher.join(timeout=1)
        os.close(read)


@contextlib.contextmanager
def _quiet_workers(multi_processing: bool) -> Iterator[None]:
    """DirectRunner's multi-processing workers as quiet as the runner in this process: on top of `worker_options`,
    what the workers print before they have read their options (Beam's import notice, their first INFO lines, unless
    the command logs at INFO; TensorFlow's start-up lines, `native_log`) is dropped from the stderr they share with
    the command (`native_log.filtered_stderr`), and a worker process that a stop ended goes unsaid
    (`_stopped_workers_unsaid`). Any other runner (`multi_processing` False, `_multi_processing`): nothing changes."""
    if not multi_processing:
        yield
        return
    verbose = logging.getLogger("apache_beam").isEnabledFor(logging.INFO)
    drop = re.compile(BEAM_NOTICE if verbose else BEAM_NOTICE + b"|" + WORKER_INFO)
    # A worker's log line comes to the command twice: on the stderr they share, and as a record Beam's job service
    # logs again ("Worker: severity: WARN timestamp {...} message: ..."): its errors alone are said that way
    relayed = logging.getLogger("apache_beam.runners.portability.local_job_service")
    level, relayed.level = relayed.level, logging.DEBUG if verbose else logging.ERROR
    try:
        with native_log.filtered_stderr(drop=drop), _stopped_workers_unsaid():
            yield
    finally:
        relayed.level = level


def _imported():
    root = logging.getLogger()  # Beam's import logs "apitools not found, and bigquery client libraries are not
    level, root.level = root.level, logging.ERROR  # available" on the root logger: nothing this converter uses
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
        from apache_beam.runners.runner import create_runner
    except ImportError:
        raise ImportError(f"the Beam runner needs Apache Beam: {install_hint('beam')}") from None
    finally:
        root.level = level
    return beam, PipelineOptions, StandardOptions, create_runner


def _direct_runner() -> Any:
    """Beam's DirectRunner as it runs this pipeline on a machine offline, for options that name no runner: at each run
    DirectRunner (Beam 2.78) first downloads Beam's Prism runner, a program of its own, from github.com, and runs the
    pipeline there where the machine is online (a runner never tested here), else falls back to its FnApiRunner (a
    fixer's finding, docs/data.md#conversion). Its `is_interactive` is the switch by which it passes Prism over (as
    Beam's interactive runner uses it); nothing else in the run changes."""
    _, _, _, create_runner = _imported()
    runner = create_runner("DirectRunner")
    runner.is_interactive()
    return runner


def _named_fn_api_runner(options: Any) -> Any:
    """For options that name FnApiRunner (`--beam-option=--runner=FnApiRunner`), that runner with the options its
    workers are to read, as DirectRunner makes it (Beam 2.78, `DirectRunner.run_pipeline`); else None (the runner
    the options name). Named, Beam makes it with none: its multi-processing workers, which read their options from
    it, did not import `beam_worker` (`--beam_plugins`) nor take their log levels (`worker_options`), and each
    warned "No semi_persistent_directory found" (docs/data.md#conversion)."""
    if _runner_name(options) != "FnApiRunner":
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def check_beam_options(beam_options: Sequence[str]) -> None:
    """Refuses Beam options that Beam would pass over with a warning (a misspelled `--runer=FlinkRunner`: the job
    ran on this machine, status 0) or refuse only once the dataset is read (an unknown runner), before anything is
    read or written (a reviewer's: an unknown runner marked a complete split as being converted again).

    Raises:
        ImportError: Apache Beam is not installed.
        ValueError: an option that is not `--name[=value]`, one Beam does not know, or an unknown runner.
    """
    _, PipelineOptions, StandardOptions, create_runner = _imported()
    flag = option(*BEAM_OPTION)
    example = option("--beam-option=--runner=FlinkRunner", "beam_options=['--runner=FlinkRunner']")
    loose = [o for o in beam_options if not o.startswith("--") or (" " in o.split("=")[0])]
    if loose:
        raise ValueError(f"{flag}: {loose[0]!r} is not a Beam option: each is --name=value (e.g. {example})")
    dashed = [o.split("=")[0] for o in beam_options if "-" in o[2:].split("=")[0]]
    if dashed:  # (Beam reads --direct-num-workers as an unknown option, and passes it over: a diff reviewer's)
        raise ValueError(f"{flag}: Beam's options are written with underscores: "
                         + ", ".join(f"--{name[2:].replace('-', '_')} for {name}" for name in dashed))
    options = PipelineOptions(list(beam_options))
    parsing = logging.getLogger("apache_beam.options.pipeline_options")
    level, parsing.level = parsing.level, logging.ERROR  # ("Discarding unparseable args": said below, in a line)
    usage = io.StringIO()  # (a bad value: argparse printed Beam's whole usage, 138 lines, and exited the process)
    try:
        with contextlib.redirect_stderr(usage):
            known = options.get_all_options(retain_unknown_options=False)
            unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - set(known))
    except SystemExit:
        said = usage.getvalue().strip().splitlines()
        raise ValueError(f"{flag}: {said[-1].split('error: ', 1)[-1] if said else 'refused by Apache Beam'}") from None
    finally:
        parsing.level = level
    if unknown:
        hints = closest_pairs(unknown, known)
        raise ValueError(f"{flag}: Apache Beam has no option {', '.join('--' + name for name in unknown)}"
                         + (" (did you mean " + ", ".join(f"--{good} for --{bad}" for good, bad in hints) + "?)"
                            if hints else ""))
    runner = options.view_as(StandardOptions).runner
    if runner:
        try:
            create_runner(runner)
        except Exception as e:  # "Unexpected pipeline runner: X. Valid values are ...", or one this host cannot run
            raise ValueError(f"{flag}: --runner={runner}: {(str(e).strip().splitlines() or [type(e).__name__])[0]}"
                             ) from None


def _cause(error: BaseException) -> BaseException:
    """What a step raised, out of the RuntimeError Beam wraps it in (a Ctrl-C in DirectRunner's own process is
    "RuntimeError: KeyboardInterrupt [while running 'WriteShard']"): a KeyboardInterrupt or OSError in the chain,
    else `error`."""
    seen, link = set(), error
    while link is not None and id(link) not in seen:
        if isinstance(link, (KeyboardInterrupt, OSError)):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return error


def run_beam(tasks: Sequence[ShardTask], beam_options: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Writes the shards with Apache Beam.

    Args:
        tasks: the shards to write (`convert.plan_shards`).
        beam_options: pipeline arguments; DirectRunner without Beam's Prism runner where they name no runner
            (`_direct_runner`).

    Returns:
        One marker per shard (as `shards.write_shard` returns), errors included, in `tasks` order.

    Raises:
        ImportError: Apache Beam is not installed.
        KeyboardInterrupt: a Ctrl-C (or SIGTERM, as the command takes it) while the pipeline ran.
        OSError: a shard could not be written (a full disk), as the local runner raises it.
        ValueError: the runner failed (its options: an endpoint or project missing).
    """
    beam, PipelineOptions, _, _ = _imported()
    for task in tasks:
        if os.path.exists(error_path(task)):
            os.remove(error_path(task))
    given = list(beam_options)
    runner = None if any(o.split("=")[0] == "--runner" for o in given) else _direct_runner()
    options = PipelineOptions(given)
    multi_processing = _multi_processing(options)
    if multi_processing:
        options = PipelineOptions(given + worker_options(given))
        runner = runner or _named_fn_api_runner(options)
    steps = logging.getLogger("apache_beam.runners.common")  # it logged a stop's traceback before raising it
    level, steps.level = steps.level, logging.CRITICAL  # (raised below, and said in a line: a diff reviewer's)
    # DirectRunner's multi-processing mode leaves its job server's and workers' temporary folders behind (six a run, in
    # /tmp): there they go in a folder of the run's own
    scratch = _own_temporary_folder() if multi_processing else contextlib.nullcontext()
    try:
        with scratch, _quiet_workers(multi_processing), _stops_to_the_main_thread(), \
                beam.Pipeline(runner=runner, options=options) as pipeline:
            _ = (pipeline
                 | "ShardPlan" >> beam.Create(worker_tasks(tasks, options))
                 | "Spread" >> beam.Reshuffle()
                 | "WriteShard" >> beam.Map(_write_and_record))
    except Exception as e:
        if (cause := _cause(e)) is not e:
            raise cause from None
        if "[while running 'WriteShard']" in str(e):  # a step's own failure: a defect, with its traceback
            raise
        # the runner's (PortableRunner without --job_endpoint; Dataflow's "Pipeline has validations errors:" with its
        # reasons on the lines after: one line named that alone, a diff reviewer's)
        reasons = "; ".join(line.strip() for line in str(e).splitlines() if line.strip()).replace(":; ", ": ") \
            or type(e).__name__
        raise ValueError(f"Apache Beam's runner did not run the conversion: {reasons}") from e
    finally:
        steps.level = level

    results = []
    for task in tasks:
        path = error_path(task) if os.path.exists(error_path(task)) else os.path.join(
            task.output_dir, MARKER_DIR, task.name + ".json")
        with open(path, encoding="utf-8") as f:
            results.append(json.load(f))
        if "os_error" in results[-1]:
            raise OSError(*results[-1]["os_error"])
    return results
