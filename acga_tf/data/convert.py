"""Converter: A2D / J-HMDB Sentences or your own data → TFRecord shards + manifest + vocabulary (`schema.py`).

Output directory:

    <split>-00000-of-000NN.tfrecord   one SequenceExample per annotated frame (clip stored once, all sentences)
    manifest.json                      dataset, splits, counts, clip policy, vocabulary, converter version, sha256
    vocab.txt                          vocabulary of the TRAINING sentences
    skipped.csv                        source,reason,message of every item left out (bad items only with --skip-bad;
                                       sentences that label no frame always, docs/data.md#conversion)
    .shards/<shard>.json               per-shard completion marker (fingerprint of its inputs, sha256, counts)

Items are sorted by (video, frame) and cut into shards of `shard_size` annotated frames, so the content of each
shard depends only on the inputs and `window`, never on the number of workers. A shard is written to
`<name>.tmp` and renamed when complete, then its marker is written; a re-run keeps every shard whose marker
matches its inputs and whose file still has the recorded sha256, rewrites the others, and removes stale shards
(another shard count) and leftover `.tmp` files, so an interrupted run finishes with the same bytes as an
uninterrupted one and no sample is ever written twice.

Run as `acga prepare a2d --root DIR --output DIR ...` or `python -m pipelines.convert a2d --root DIR ...`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Iterable, Iterator, Sequence

from acga_tf.data.a2d import SKIP_BAD_HINT, SkipWarnings, read_a2d
from acga_tf.data.beam import BEAM_OPTION, check_beam_options, error_path, run_beam
from acga_tf.data.custom import read_custom
from acga_tf.data.jhmdb import jhmdb_frame_choice, read_jhmdb
from acga_tf.data.manifest import (
    CONVERTING_KEY,
    MANIFEST_NAME,
    SHARD_RE,
    VOCAB_NAME,
    read_manifest,
    unlisted_shards,
)
from acga_tf.data.schema import JPEG_QUALITY, SCHEMA_VERSION
from acga_tf.data.shards import (
    CONVERTER_VERSION,
    MARKER_DIR,
    ShardTask,
    completed_marker,
    marker_path,
    plan_shards,
    write_shard,
)
from acga_tf.data.text import tokenize_py_many
from acga_tf.data.types import AnnotatedFrame, DataError, Skipped
from acga_tf.data.video import natural_key
from acga_tf.data.vocab import Vocabulary
from acga_tf.ops import files
from acga_tf.ops.config import positive_int
from acga_tf.ops.defaults import DEFAULT_SHARD_SIZE, DEFAULT_WINDOW, METADATA_NAME, RUNNERS
from acga_tf.ops.errors import deferred_interrupts
from acga_tf.ops.options import option
from acga_tf.ops.progress import bar as progress_bar
from acga_tf.ops.wording import counted

logger = logging.getLogger(__name__)

WORKER_WATCH_S = 1.0  # how often a pool worker checks that the command's process is still there
SKIPPED_NAME = "skipped.csv"
CLIP_RULE = ("stored frames = distinct frames of zero-based indices k - window//2 ... k + (window+1)//2 - 1 "
             "clamped to [0, video frames - 1] (k = annotated frame); a T-frame clip (T <= window) is indices "
             "center - T//2 ... center + (T+1)//2 - 1 clamped to [0, num_frames - 1] (docs/data.md#clips)")
DATASETS = ("a2d", "jhmdb", "custom")
SPLITS = ("train", "test", "all")
# How messages name `prepare`'s settings: the `acga prepare` option, or the Python argument (`ops.options.option`).
OUTPUT, OVERWRITE = ("--output", "output"), ("--overwrite", "overwrite=True")
VOCABULARY = ("--vocabulary", "vocabulary")
# A trained run's or an export's files (training.artifacts' MODEL_FILE, EXPERIMENT_FILE; a SavedModel's graph): a
# folder holding one is refused as the output even with --overwrite, whose shards' vocab.txt would replace the run's
MODEL_FILES = ("model.keras", "experiment.json", "saved_model.pb")
OUTPUT_FILES = {MANIFEST_NAME, MANIFEST_NAME + ".tmp", VOCAB_NAME, VOCAB_NAME + ".tmp", SKIPPED_NAME,
                SKIPPED_NAME + ".tmp", MARKER_DIR}


def _raise_error(result: dict[str, Any]) -> None:
    source, message, reason = result["error"]
    raise DataError(source, f"{message} ({SKIP_BAD_HINT})", reason=reason)


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for `convert(executor=...)`; "spawn" workers start clean (no forked TensorFlow state).

    The workers ignore Ctrl-C (SIGINT, which a terminal sends to every process of the command): the main process
    alone stops the conversion, cancels the shards not started and waits for those being written, so that what it
    reports as complete is what is on disk when the command exits, and no worker goes on to its next queued
    shard after the command has ended.
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))


def _start_worker(parent: int) -> None:
    """A pool worker ignores Ctrl-C (`make_pool`) and ends when the command's process is gone (killed with SIGKILL,
    which nothing can catch): else the workers go on writing the shards queued to them, then wait forever.
    A shard being written is left as its `.tmp` file, which the next run removes.
    Ctrl-C is held back in a worker until it ignores it (`_ctrl_c_held`): it is let through here too, for a worker whose
    start did not (a program of the user's own, run as the worker's main module, not the command's)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WORKER_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="acga-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Within the block, Ctrl-C (SIGINT) is held back in this thread and in the processes it starts, which inherit
    what a thread holds back (through their `exec` too), until each lets it through: a pool worker (`make_pool`)
    starts as the pool submits its first shards to it, and from Python's start to the line that ignores Ctrl-C
    (`acga_tf.cli`, which it runs first, or `_start_worker`) spends about 0.2 s in which a Ctrl-C printed the worker's
    KeyboardInterrupt traceback (or "Fatal Python error: init_import_site") beside the command's one line
    (docs/data.md#conversion). A stop of this process (Ctrl-C, SIGTERM, SIGHUP: the command's handlers) is not lost,
    nor does it cut a worker's start in two (another thread of the process takes the signal, and Python raised it in
    this one between the worker's start and the data the pool sends it: "EOFError: Ran out of input" in the worker):
    it is noted, and raised again, to the handler it had, when the block ends (`errors.deferred_interrupts`)."""
    with deferred_interrupts():
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
        try:
            yield
        finally:
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _run_local(tasks: list[ShardTask], workers: int, progress: bool, desc: str,
               executor: ProcessPoolExecutor | None) -> list[dict[str, Any]]:

    results = []
    with progress_bar(total=sum(len(t.items) for t in tasks), unit="frame", desc=desc, disable=not progress,
                      file=sys.stderr) as bar:
        if workers <= 1 and executor is None:
            for task in tasks:
                result = write_shard(task)
                if "error" in result:
                    _raise_error(result)
                results.append(result)
                bar.update(len(task.items))
            return results
        pool = executor or make_pool(workers)
        try:
            with _ctrl_c_held():  # (a submit starts a worker while the pool has fewer than it may have)
                pending = {pool.submit(write_shard, t): t for t in tasks}  # one shard per task
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)  # (FIRST_EXCEPTION waited for every shard:
                # `write_shard` returns its errors, so the bar stood at 0 to the end, a bad shard named after all)
                for future in done:
                    task = pending.pop(future)
                    result = future.result()
                    if "error" in result:
                        for other in pending:
                            other.cancel()
                        wait(pending)  # shards already running finish (complete shards are kept)
                        _raise_error(result)
                    results.append(result)
                    bar.update(len(task.items))
        finally:
            if executor is None:
                pool.shutdown(wait=True, cancel_futures=True)
    return results


def _remove_stale(output_dir: str, split_name: str, keep: set[str]) -> None:
    """Removes shards of this split not in the current plan (another shard count), and leftover .tmp files (the
    shards' and their markers', under either runner's temporary names); only names the converter writes
    (`<split>-NNNNN-of-NNNNN.tfrecord`), never another file that happens to share a prefix."""
    markers = os.path.join(output_dir, MARKER_DIR)
    for entry in os.listdir(markers) if os.path.isdir(markers) else ():  # (`<shard>.json.tmp`, `<shard>.error.json.
        # <hex>.tmp`: a diff reviewer's, left where the other runner, or another shard count, finished the split)
        shard = entry[:entry.find(".tfrecord.") + len(".tfrecord")]
        if entry.endswith(files.TEMPORARY_SUFFIX) and (match := SHARD_RE.match(shard)) and match.group(1) == split_name:
            os.remove(os.path.join(markers, entry))
    for entry in os.listdir(output_dir):
        path = os.path.join(output_dir, entry)
        match = SHARD_RE.match(entry)
        if match is None or match.group(1) != split_name:
            continue
        if entry.endswith(".tmp") or (entry.endswith(".tfrecord") and entry not in keep):
            logger.info("removing stale %s", path)
            os.remove(path)
            marker = marker_path(output_dir, entry.removesuffix(".tmp"))
            if not entry.endswith(".tmp") and os.path.exists(marker):
                os.remove(marker)


def claim_output_dir(output_dir: str, dataset: str, *, overwrite: bool = False) -> None:
    """The converter's output-folder policy, checked before any work: a new or empty folder, or one holding this
    dataset's shards (re-run, resume), is used; a folder holding another dataset's shards or files the converter
    did not write is refused unless `overwrite` (which removes another dataset's shards, manifest and vocabulary
    first; files the converter did not write are never touched); a folder holding a trained run or an export
    (`MODEL_FILES`) is refused even then: the shards' `vocab.txt` would have replaced the run's.

    Raises:
        ValueError: the folder is someone else's or another dataset's (the message says what to pass).
    """
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"{output_dir}: exists and is not a folder")
    entries = set(os.listdir(output_dir)) if os.path.isdir(output_dir) else set()
    ours = {e for e in entries if e in OUTPUT_FILES or SHARD_RE.match(e)}
    foreign = sorted(entries - ours)
    manifest = read_manifest(output_dir, missing_ok=True) or {}
    other_dataset = manifest.get("dataset") not in (None, dataset)
    if (model := next((name for name in MODEL_FILES if name in entries), None)) is not None:
        raise ValueError(f"{output_dir}: holds a trained model ({model}), whose {VOCAB_NAME} the shards' vocabulary "
                         f"would replace; choose another {option(*OUTPUT)}")
    if not overwrite and foreign:
        raise ValueError(f"{output_dir}: holds files the converter did not write ({', '.join(foreign[:5])}); choose "
                         f"an empty or new {option(*OUTPUT)}, or pass {option(*OVERWRITE)} to write the shards there "
                         "anyway")
    if not overwrite and other_dataset:
        raise ValueError(f"{output_dir}: holds {manifest['dataset']} shards; choose another {option(*OUTPUT)} for "
                         f"{dataset}, or pass {option(*OVERWRITE)} to replace them")
    if overwrite and other_dataset:
        for entry in ours:
            path = os.path.join(output_dir, entry)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        logger.warning("%s: removed the converter's previous files in %s", option(*OVERWRITE), output_dir)
    files.check_writable(output_dir, folder=True, flag=option(*OUTPUT))  # before the work (a read-only folder)


def _write_vocabulary(output_dir: str, vocabulary: str | Sequence[str] | None, frames: Sequence[AnnotatedFrame],
                      left_out: Sequence[str]) -> tuple[int, str]:

    path = os.path.join(output_dir, VOCAB_NAME)
    if isinstance(vocabulary, str) and os.path.abspath(vocabulary) == os.path.abspath(path):  # (`prepare` of the
        vocab = Vocabulary.load(path)  # test split alone: the train shards' own, kept)
        return len(vocab.words) - 1, (read_manifest(output_dir, missing_ok=True) or {}).get(
            "vocabulary_source", "kept: the train shards' (not converted by this run)")
    if isinstance(vocabulary, str):
        vocab = Vocabulary.load(vocabulary)
        source = f"copied from {vocabulary}"
    else:
        if vocabulary is not None:
            sentences = list(vocabulary)
        else:  # the sentences of the samples written: not those `--skip-bad` left out (a reviewer's)
            sentences = list((collections.Counter(r.sentence for f in frames for r in f.referrals)
                              - collections.Counter(left_out)).elements())
        vocab = Vocabulary.build(sentences)
        # one sentence for each frame it labels (a sentence on 4 annotated frames counts its words 4 times)
        source = f"built from {len(sentences)} referrals (a sentence once for each annotated frame it labels)"
        if len(vocab.words) <= 1 and left_out:  # (a diff reviewer's: a vocab.txt of no word, status 0, unsaid)
            logger.warning("%s holds no word: every sample it is built from was left out as bad (%s)", path,
                           SKIPPED_NAME)
    with files.atomic_path(path) as temporary:
        vocab.save(temporary)
    return len(vocab.words) - 1, source  # the words of vocab.txt (not the padding entry: 83 for its 82 lines)


def check_vocabulary_covers(path: str, sentences: Sequence[str]) -> None:
    """Checks a vocabulary file given to copy against the sentences to convert: the model reads only its words.

    Logs a warning with the number of sentences that have none of its words.

    Raises:
        ValueError: the file holds no word, or none of the sentences has one of its words (every sentence would be
            read as zero vectors: the model could not learn from the text).
    """
    vocab = Vocabulary.load(path)
    if len(vocab.words) <= 1:  # the padding entry only
        raise ValueError(f"{path}: no word (an empty vocabulary); give the vocab.txt of the shards the model was "
                         f"trained on, or leave {option(*VOCABULARY)} out to build one")
    sentences = list(dict.fromkeys(sentences))  # each once (they came once a frame: "9 of 15 sentences" for 5)
    blind = sum(not any(vocab.index(t) > 0 for t in tokens) for tokens in tokenize_py_many(sentences))
    if sentences and blind == len(sentences):
        raise ValueError(f"{path}: none of the {len(sentences)} sentences has a word of this vocabulary (every "
                         "sentence would be read as zero vectors); give the vocab.txt of the shards the model was "
                         "trained on")
    if blind:
        logger.warning("%s: %d of %d sentences have no word of this vocabulary (they are read as zero vectors)", path,
                       blind, len(sentences))


def _write_skipped(output_dir: str, rows: Iterable[Sequence[str]]) -> str | None:
    rows = list(rows)
    path = os.path.join(output_dir, SKIPPED_NAME)
    if not rows:
        if os.path.exists(path):
            os.remove(path)
        return None
    with files.atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "reason", "message"])
        w.writerows(sorted(rows, key=lambda row: natural_key(row[0])))  # a table's line 2 before its line 14
    return path


def _write_shards(tasks: list[ShardTask], runner: str, beam_options: Sequence[str], workers: int, progress: bool,
                  desc: str, executor: ProcessPoolExecutor | None) -> tuple[dict[str, dict[str, Any]], int]:
    """Writes the shards not complete yet (local pool or Beam); returns every shard's completion marker, and how many
    were complete already (a re-run's)."""
    markers = {t.name: completed_marker(t) for t in tasks}
    todo = [t for t in tasks if markers[t.name] is None]
    if len(todo) < len(tasks):
        logger.info("%s: %d of %d shards already complete", desc, len(tasks) - len(todo), len(tasks))
    if todo:
        try:
            results = run_beam(todo, beam_options) if runner == "beam" else _run_local(todo, workers, progress, desc,
                                                                                       executor)
        except KeyboardInterrupt:
            if executor is not None:  # the caller's pool: its shards being written finish before they are counted
                executor.shutdown(wait=True, cancel_futures=True)
            complete = sum(completed_marker(t) is not None for t in tasks)
            raise KeyboardInterrupt(f"{complete} of {len(tasks)} {desc} shards are complete and kept; the same command "
                                    "converts only the rest") from None
        except OSError as e:  # a full disk: what is kept, as after Ctrl-C
            complete = sum(completed_marker(t) is not None for t in tasks)
            e.add_note(f"{complete} of {len(tasks)} {desc} shards are complete and kept; the same command converts "
                       "only the rest")
            raise
        for r in results:
            if "error" in r:
                _raise_error(r)
            markers[r["name"]] = r
    for task in tasks:  # a Beam run's record of an error, of a shard written since (by either runner)
        if os.path.exists(error_path(task)):
            os.remove(error_path(task))
    return markers, len(tasks) - len(todo)


def _update_manifest(output_dir: str, dataset: str, split_name: str, split_summary: dict[str, Any], window: int,
                     vocabulary: tuple[int, str], reader_skipped: Sequence[Skipped]) -> str | None:
    """Writes the split into `manifest.json` (a fresh one for another dataset, converter version or window) and
    `skipped.csv`; returns the latter's path (None when nothing was skipped)."""
    manifest = read_manifest(output_dir, missing_ok=True) or {}
    if manifest.get("dataset") not in (None, dataset) or manifest.get("converter_version") != CONVERTER_VERSION \
            or manifest.get("clip", {}).get("window") != window:
        manifest = {}  # another dataset/version/window: start a fresh manifest
    vocab_size, vocab_source = vocabulary
    manifest.update({
        "dataset": dataset, "converter_version": CONVERTER_VERSION, "schema_version": SCHEMA_VERSION,
        "record": "tf.train.SequenceExample per annotated frame (acga_tf.data.schema)",
        "clip": {"window": window, "rule": CLIP_RULE, "frames": f"JPEG quality {JPEG_QUALITY}, original size"},
        "vocabulary": VOCAB_NAME, "vocabulary_size": vocab_size, "vocabulary_source": vocab_source,
    })
    manifest.setdefault("splits", {})[split_name] = split_summary
    converting = [name for name in manifest.pop(CONVERTING_KEY, []) if name != split_name]
    if converting:
        manifest[CONVERTING_KEY] = converting
    # Items the reader left out belong to no shard: listed once, for the whole dataset.
    manifest["reader_skipped_items"] = [[s.source, s.reason, s.message] for s in reader_skipped]
    return _write_manifest(output_dir, manifest)


def _write_manifest(output_dir: str, manifest: dict[str, Any]) -> str | None:
    """Writes `manifest.json` with its totals over its splits, and `skipped.csv`; returns the latter's path (None
    when nothing was skipped)."""
    manifest["samples"] = sum(s["samples"] for s in manifest["splits"].values())
    manifest["frames"] = sum(s["frames"] for s in manifest["splits"].values())
    all_skipped = [row for s in manifest["splits"].values() for row in s["skipped_items"]]
    skipped_path = _write_skipped(output_dir, all_skipped + manifest.get("reader_skipped_items", []))
    files.write_json(os.path.join(output_dir, MANIFEST_NAME), manifest)
    return skipped_path


def _check_other_split(output_dir: str, manifest: dict[str, Any], split_name: str,
                       frames: Sequence[AnnotatedFrame]) -> None:
    """Refuses to convert one split (`--split`) where the other split's shards hold one of its videos (a video moved
    in the table from train to test, then the test split converted alone: in both splits' shards, trained on and
    scored, a data engineer's). Manifests written before 2026-12-06 (night) record no videos: nothing to check.

    Raises:
        ValueError: naming the first such video.
    """
    other = "test" if split_name == "train" else "train"
    theirs = set(manifest.get("splits", {}).get(other, {}).get("videos", ()))
    both = sorted(theirs & {f.video_id for f in frames})
    if both:
        raise ValueError(f"{output_dir}: {counted(len(both), 'video')} of the table's {split_name} split "
                         f"{'were' if len(both) != 1 else 'was'} in the {other} split of the table its {other} shards "
                         f"were converted from ({both[0]}): a video would be in both splits; convert every split (no "
                         "--split)")


def _mark_converting(output_dir: str, split_name: str) -> None:
    """Records in the manifest, where it lists the split, that the split is being converted again (`CONVERTING_KEY`,
    removed when its new manifest entry is written): a re-run stopped by a bad row had replaced some shards of the
    same names, which `make_dataset` read beside the others, two conversions as one (a reviewer's)."""
    manifest = read_manifest(output_dir, missing_ok=True)
    if manifest is not None and split_name in manifest.get("splits", {}) and \
            split_name not in manifest.get(CONVERTING_KEY, []):
        manifest[CONVERTING_KEY] = [*manifest.get(CONVERTING_KEY, []), split_name]
        files.write_json(os.path.join(output_dir, MANIFEST_NAME), manifest)


def _forget_split(output_dir: str, split_name: str, kept: int = 0) -> None:
    """Removes the shards and the manifest's entry of a split the dataset no longer has (a conversion of all its
    splits): a video moved from test to train was in both splits' shards. Where the readers left `kept` items out
    (`--skip-bad`), the split's rows may be among them (a video missing for now): its shards are kept, with a
    warning."""
    names = [entry for entry in os.listdir(output_dir) if (m := SHARD_RE.match(entry)) and m.group(1) == split_name]
    manifest = read_manifest(output_dir, missing_ok=True) or {}
    if not names and split_name not in manifest.get("splits", {}):
        return
    if kept:
        if split_name in manifest.get("splits", {}):  # (else no longer listed: the stale-shard warning names them)
            logger.warning("%s: no %s rows were read, but --skip-bad left %d item%s out: the %s shards an earlier "
                           "conversion wrote are kept (if the dataset has no %s split now, remove them: "
                           "%s-*.tfrecord)", output_dir, split_name, kept, "s" * (kept != 1), split_name, split_name,
                           split_name)
        return
    logger.warning("%s: no %s rows now: removing the %s shards an earlier conversion wrote (%d files)", output_dir,
                   split_name, split_name, len(names))
    if manifest.get("splits", {}).pop(split_name, None) is not None:
        _write_manifest(output_dir, manifest)
    _remove_stale(output_dir, split_name, set())


def _check_counts(window: int, shard_size: int, workers: int) -> None:
    """Names the first of the counts below 1 (ValueError, `positive_int`'s)."""
    for name, value in (("window", window), ("shard_size", shard_size), ("workers", workers)):
        positive_int(name, value)


def convert(frames: Sequence[AnnotatedFrame], output_dir: str, *, split_name: str, dataset: str,
            window: int = DEFAULT_WINDOW, shard_size: int = DEFAULT_SHARD_SIZE, workers: int = 1,
            skip_bad: bool = False, vocabulary: str | Sequence[str] | None = None,
            reader_skipped: Sequence[Skipped] = (), runner: str = "local", beam_options: Sequence[str] = (),
            progress: bool = True, executor: ProcessPoolExecutor | None = None,
            frame_choice: dict[str, Any] | None = None) -> dict[str, Any]:
    """Converts the annotated frames of one split to shards, then updates the vocabulary, manifest and skipped.csv.

    Args:
        frames: the split's annotated frames (from `read_a2d` / `read_jhmdb`).
        output_dir: created if missing; may hold other splits of the same dataset.
        split_name: "train" or "test": the shard prefix.
        dataset: "a2d", "jhmdb" or "custom" (recorded in the manifest).
        window: frames stored around the annotated frame (≥ the clip length T used later).
        shard_size: annotated frames per shard.
        workers: processes (local runner).
        skip_bad: leave out frames whose data is bad and list them in skipped.csv, instead of stopping.
        vocabulary: training sentences to build `vocab.txt` from, or the path of a vocabulary file to copy; None
            builds it from the sentences of the samples written (those `skip_bad` leaves out are not counted).
        reader_skipped: items the dataset reader already left out (listed in skipped.csv).
        runner: "local" (process pool) or "beam" (`acga_tf.data.beam`, DirectRunner unless `beam_options` say).
        beam_options: Beam pipeline arguments, e.g. ["--runner=DirectRunner"].
        progress: show a tqdm progress bar on stderr.
        executor: a pool (`make_pool`) to reuse across calls instead of starting one for `workers` > 1.
        frame_choice: how the annotated frames were chosen (J-HMDB's: `jhmdb_frame_choice`), recorded in the
            manifest's split as `frame_choice`.

    Returns:
        The summary: split, frames, samples, empty_masks (samples whose actor has no pixel in its frame, kept),
        shards (name, sha256, frames, samples), skipped (the split's frames
        left out: the manifest's count), reader_skipped (the items the reader left out, of every split),
        skipped_csv, output_dir.

    Raises:
        DataError: bad input without `skip_bad` (the message names the file and field).
        ValueError: bad arguments.
    """
    if split_name not in ("train", "test"):
        raise ValueError(f"split_name={split_name!r}: expected 'train' or 'test'")
    _check_counts(window, shard_size, workers)
    if runner not in RUNNERS:
        raise ValueError(f"runner={runner!r}: expected one of {RUNNERS}")
    os.makedirs(os.path.join(output_dir, MARKER_DIR), exist_ok=True)

    if runner == "beam":  # before the split is marked as being converted (an unknown runner left it so)
        check_beam_options(beam_options)
    tasks = plan_shards(frames, output_dir, split_name, window=window, shard_size=shard_size, skip_bad=skip_bad)
    _mark_converting(output_dir, split_name)  # (a shard of the same name is replaced as soon as it is written)
    markers, reused = _write_shards(tasks, runner, beam_options, workers, progress, f"{dataset} {split_name}",
                                    executor)
    # Once the new shards are all written: a re-run stopped by a bad row removed the last good conversion's first
    # (another shard count), leaving a part-written set that its manifest did not describe.
    _remove_stale(output_dir, split_name, {t.name for t in tasks})
    shards = [{"file": t.name, "sha256": markers[t.name]["sha256"], "bytes": markers[t.name].get("bytes"),
               "frames": markers[t.name]["frames"], "samples": markers[t.name]["samples"]} for t in tasks]
    skipped_rows = [row for t in tasks for row in markers[t.name]["skipped"]]
    left_out = [sentence for t in tasks for sentence in markers[t.name].get("left_out_sentences", ())]  # (a marker
    # from before 2026-12-07 that skipped nothing left nothing out: `completed_marker` writes the others again)
    # One warning per item left out, as the readers give for the rows they leave out (a2d._Reporter; the first
    # SHOWN_SKIPS of a reason): a bad video leaves out each of its annotated frames, one row each in skipped.csv
    warn = SkipWarnings(logger)
    for (source, reason, message), count in collections.Counter((row[0], row[1], row[2])
                                                                for row in skipped_rows).items():
        warn(reason, f"{source}: {message}" + (f" ({count} annotated frames)" if count > 1 else ""))
    empty_masks = sum(markers[t.name].get("empty_masks", 0) for t in tasks)  # 0 in a marker from before 2026-12-04
    if empty_masks:
        logger.warning("%s %s: %d %s an empty mask (the actor has no pixel in the frame); kept, as the benchmarks' "
                       "protocol scores them (docs/data.md#datasets)", dataset, split_name, empty_masks,
                       "sample has" if empty_masks == 1 else "samples have")
    split_summary = {"frames": sum(s["frames"] for s in shards), "samples": sum(s["samples"] for s in shards),
                     "empty_masks": empty_masks,
                     "num_shards": len(shards), "shard_size": shard_size, "skipped": len(skipped_rows),
                     "skipped_items": skipped_rows, "shards": shards,
                     "videos": sorted({f.video_id for f in frames})}  # (a video then moved to the other split and
    # converted alone with --split was in both, `_check_other_split`)
    if frame_choice is not None:
        split_summary["frame_choice"] = frame_choice

    skipped_path = _update_manifest(output_dir, dataset, split_name, split_summary, window,
                                    _write_vocabulary(output_dir, vocabulary, frames, left_out), reader_skipped)
    summary = {"dataset": dataset, "split": split_name, "frames": split_summary["frames"],
               "samples": split_summary["samples"], "empty_masks": empty_masks, "shards": shards,
               "skipped": len(skipped_rows), "reused": reused,
               "reader_skipped": len(reader_skipped), "skipped_csv": skipped_path, "output_dir": output_dir}
    logger.info("%s %s: %d samples (%d frames) in %d shards, %d skipped", dataset, split_name, summary["samples"],
                summary["frames"], len(shards), summary["skipped"])
    return summary


def _read(dataset: str, root: str, *, skip_bad: bool, skipped: list, frames: str,
          metadata_path: str | None, keep_absent: bool = False) -> list[AnnotatedFrame]:
    if dataset == "a2d":
        return read_a2d(root, "all", skip_bad=skip_bad, skipped=skipped)
    if dataset == "custom":
        return read_custom(root, skip_bad=skip_bad, skipped=skipped, keep_absent=keep_absent)

    return read_jhmdb(root, frames=frames, metadata_path=_metadata_file(root, frames, metadata_path),
                      skip_bad=skip_bad, skipped=skipped)


def _metadata_file(root: str, frames: str, metadata_path: str | None) -> str | None:
    """MTTR's metadata JSON that J-HMDB's `frames` read: the one given, else `root/METADATA_NAME` (None for the
    uniform frames)."""
    return (metadata_path or os.path.join(root, METADATA_NAME)) if frames == "metadata" else None


def prepare(dataset: str, root: str, output: str, split: str = "all", *, workers: int = 1,
            shard_size: int = DEFAULT_SHARD_SIZE, skip_bad: bool = False, runner: str = "local",
            window: int = DEFAULT_WINDOW, frames: str = "uniform", metadata_path: str | None = None,
            vocabulary: str | None = None, beam_options: Sequence[str] = (), progress: bool = True,
            executor: ProcessPoolExecutor | None = None, overwrite: bool = False,
            keep_absent: bool = False) -> list[dict[str, Any]]:
    """Reads a dataset and converts the requested split(s) (`convert`); vocab.txt is built from the TRAINING
    sentences (J-HMDB Sentences has no training split: pass the A2D `vocabulary`, or all its sentences are used).

    Args:
        dataset: "a2d", "jhmdb" or "custom" (your own data: docs/data.md#your-own-data).
        root: the dataset root (docs/data.md#datasets); for "custom", the folder of `annotations.csv` or the table.
        output: output directory.
        split: "train", "test" or "all".
        workers, shard_size, skip_bad, runner, window, beam_options, progress: see `convert`.
        frames: J-HMDB frame choice, "uniform" or "metadata" (docs/evaluation.md#protocol).
        metadata_path: MTTR's metadata JSON for frames="metadata" (default: `root/` + `METADATA_NAME`).
        vocabulary: a vocabulary file to copy instead of building one.
        executor: a pool (`make_pool`) to use instead of starting one for `workers` > 1.
        overwrite: write into a folder of other files or of another dataset's shards (`claim_output_dir`).
        keep_absent: "custom" only: rows whose mask lacks its actor are kept as empty targets (`read_custom`).

    Returns:
        One `convert` summary per split.

    Raises:
        DataError: bad input without `skip_bad`.
        ValueError: bad arguments, or a split with no annotated frame.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r}: expected one of {DATASETS}")
    if metadata_path is not None and (dataset != "jhmdb" or frames != "metadata"):  # (it was passed over: the
        # uniform frames converted, where the user believed MTTR's were: a reviewer's)
        raise ValueError(f"{option('--metadata', 'metadata_path')}: read only for J-HMDB with "
                         f"{option('--frames metadata', 'frames=' + repr('metadata'))} (the uniform frames read the "
                         "sentences of jhmdb_annotation.txt)")
    _check_counts(window, shard_size, workers)  # before the dataset is read
    if runner == "beam":
        check_beam_options(beam_options)
        if workers > 1:  # (passed over without a word: a reviewer's)
            logger.warning("%s: read by the local runner only; Beam's own options set its parallelism (e.g. %s="
                           "--direct_num_workers=%d)", option("--workers", "workers"), option(*BEAM_OPTION), workers)
    elif beam_options:
        raise ValueError(f"{option(*BEAM_OPTION)}: read by the Beam runner only "
                         f"({option('--runner beam', 'runner=' + repr('beam'))})")
    if "://" in os.fspath(output):  # (a local folder named "gs:" was made, or a libcurl error naming no file)
        raise ValueError(f"{output}: {option(*OUTPUT)} must be a folder of this machine's file system (for Beam "
                         "workers on other machines, one they all mount: NFS, or a bucket mounted with gcsfuse); "
                         "the converter writes no URL")
    if vocabulary is not None and not os.path.isfile(vocabulary):
        raise ValueError(f"{vocabulary}: vocabulary file not found ({option(*VOCABULARY)}: the vocab.txt of the "
                         "shards the model was trained on)")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    with files.locked_folder(output, option(*OUTPUT)):  # a second conversion into it now: refused, nothing touched
        claim_output_dir(output, dataset, overwrite=overwrite)
        reader_skipped: list[Skipped] = []
        items = _read(dataset, root, skip_bad=skip_bad, skipped=reader_skipped, frames=frames,
                      metadata_path=metadata_path, keep_absent=keep_absent)
        by_split: dict[str, list[AnnotatedFrame]] = {"train": [], "test": []}
        for f in items:
            by_split.setdefault(f.split, []).append(f)
        wanted = [s for s in ("train", "test") if by_split[s]] if split == "all" else [split]
        if not wanted:  # every item skipped as bad: status 0 and nothing written, without a word, before
            raise ValueError(f"{root}: no annotated frame of {dataset} to convert"
                             + (f": all {len(reader_skipped)} items read were bad (the warnings above name them; "
                                "nothing was written)" if reader_skipped else ""))
        lacking = [s for s in ("train", "test") if s not in wanted and split == "all" and dataset != "jhmdb"]
        if lacking:  # (J-HMDB Sentences is test-only by design) a world of one video wrote no test shard, unsaid, and
            # evaluation then found none: a notebook reviewer's
            logger.warning("%s: no annotated frame in the %r split: only %s shards are written", root, lacking[0],
                           wanted[0])
        for s in wanted:
            if not by_split[s]:
                raise ValueError(f"{root}: no annotated frame in the {s!r} split of {dataset}"
                                 + (" (J-HMDB Sentences is test-only, docs/evaluation.md#protocol)"
                                    if dataset == "jhmdb" else ""))
        if vocabulary is not None:  # before any shard is written
            check_vocabulary_covers(vocabulary, [r.sentence for s in wanted for f in by_split[s] for r in f.referrals])
        earlier = (read_manifest(output, missing_ok=True) or {}) if os.path.isdir(output) else {}
        if split != "all":
            _check_other_split(output, earlier, split, by_split[split])
        if vocabulary is None and split == "test" and "train" in earlier.get("splits", {}) and \
                os.path.isfile(os.path.join(output, VOCAB_NAME)):  # the train shards' words, kept (a tester's was
            vocabulary = os.path.join(output, VOCAB_NAME)  # rebuilt from the table's train rows, which had changed)
        built_by = None  # the split whose written samples' sentences build vocab.txt (the later splits keep it)
        if vocabulary is None and ("train" in wanted or not by_split["train"]):
            if not by_split["train"]:
                logger.warning("%s has no training sentences: building the vocabulary from all its sentences (pass "
                               "the A2D vocab.txt to share the trained model's vocabulary)", dataset)
            built_by = wanted[0]  # (train, or the only split of a table without training rows)
        elif vocabulary is None:  # the table's train rows, not converted by this command
            vocabulary = [r.sentence for f in by_split["train"] for r in f.referrals]
        own_pool = executor is None and workers > 1 and runner == "local"
        pool = make_pool(workers) if own_pool else executor  # one pool for every split
        try:
            summaries = [convert(by_split[s], output, split_name=s, dataset=dataset, window=window,
                                 shard_size=shard_size, workers=workers, skip_bad=skip_bad,
                                 vocabulary=vocabulary if built_by is None else
                                 None if s == built_by else os.path.join(output, VOCAB_NAME),
                                 reader_skipped=reader_skipped, runner=runner, beam_options=beam_options,
                                 progress=progress, executor=pool,
                                 frame_choice=jhmdb_frame_choice(frames, _metadata_file(root, frames, metadata_path))
                                 if dataset == "jhmdb" else None) for s in wanted]
        finally:
            if own_pool:
                pool.shutdown(wait=True, cancel_futures=True)
        for s in ("train", "test"):  # once the table's splits are written: a refusal before loses nothing
            if s not in wanted and split == "all":
                _forget_split(output, s, kept=len(reader_skipped) if skip_bad else 0)  # (not A2D's no_frame notes)
        stale = unlisted_shards(sorted(os.listdir(output)), read_manifest(output))
        if stale:  # another split's, of an earlier window or converter version (`make_dataset` refuses them)
            logger.warning("%s: %s %s not in %s (converted with other settings): convert the %s split again with "
                           "this command's settings", output, ", ".join(stale), "are" if len(stale) > 1 else "is",
                           MANIFEST_NAME, " and ".join(sorted({SHARD_RE.match(name).group(1) for name in stale})))
        return summaries


# === Command line (shared by `acga prepare` and `python -m pipelines.convert`) ===
def prepare_from_args(args: argparse.Namespace) -> list[str]:
    """Runs `prepare` with `acga prepare`'s parsed options (`acga_tf/command_options.py`); returns one summary line per
    split."""
    summaries = prepare(args.dataset, args.root, args.output, args.split, workers=args.workers,
                        shard_size=args.shard_size, skip_bad=args.skip_bad, runner=args.runner, window=args.window,
                        frames=getattr(args, "frames", None) or ("metadata" if getattr(args, "metadata", None)
                                                                   else "uniform"),
                        metadata_path=getattr(args, "metadata", None),
                        vocabulary=args.vocabulary, beam_options=args.beam_option,
                        progress=not args.no_progress, overwrite=args.overwrite,
                        keep_absent=getattr(args, "keep_absent", False))
    lines = [f"{s['dataset']} {s['split']}: {counted(s['samples'], 'sample')} "
             f"({counted(s['frames'], 'annotated frame')}) in {counted(len(s['shards']), 'shard')}"
             # a re-run's: which shards it kept (said without -v too)
             + (f" ({s['reused']} of them written before, kept)" if s["reused"] else "")
             + f", {s['skipped']} skipped"
             + (f" (listed in {s['skipped_csv']})" if s["skipped"] else "")
             + (f", {s['empty_masks']} with an empty mask (kept)" if s["empty_masks"] else "")
             + f" -> {s['output_dir']}"
             for s in summaries]
    read = summaries[-1]["reader_skipped"] if summaries else 0
    if read:  # rows, videos and sentences left out before the split's frames: once, for the whole dataset
        lines.append(f"{summaries[-1]['dataset']}: {counted(read, 'annotation item')} left out while "
                     f"reading (listed in {summaries[-1]['skipped_csv']})")
    return lines
