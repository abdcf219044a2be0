"""Converter: A2D / J-HMDB Sentences → TFRecord shards + manifest + vocabulary (schema: `acga_tf.data.schema`).

Output directory:

    <split>-00000-of-000NN.tfrecord   one SequenceExample per annotated frame (clip stored once, all sentences)
    manifest.json                      dataset, splits, counts, clip policy, vocabulary, converter version, sha256
    vocab.txt                          vocabulary of the TRAINING sentences
    skipped.csv                        source,reason,message of every item left out (only with --skip-bad)
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

import csv
import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any, Iterable, Sequence

from acga_tf.data.types import AnnotatedFrame, DataError, Skipped

logger = logging.getLogger(__name__)

CONVERTER_VERSION = "1.0"
DEFAULT_SHARD_SIZE = 64  # annotated frames per shard
DEFAULT_WINDOW = 24  # stored frames around the annotated frame: covers T = 8, 16, 24 (spec §1, Table 2)
MANIFEST_NAME = "manifest.json"
VOCAB_NAME = "vocab.txt"
SKIPPED_NAME = "skipped.csv"
MARKER_DIR = ".shards"
CLIP_RULE = ("stored frames = distinct frames of zero-based indices k - window//2 ... k + (window+1)//2 - 1 "
             "clamped to [0, video frames - 1] (k = annotated frame); a T-frame clip (T <= window) is indices "
             "center - T//2 ... center + (T+1)//2 - 1 clamped to [0, num_frames - 1] (spec §7)")
DATASETS = ("a2d", "jhmdb")
SPLITS = ("train", "test", "all")
RUNNERS = ("local", "beam")


@dataclasses.dataclass(frozen=True)
class ShardTask:
    """One shard to write: its items, where, and the fingerprint of everything its bytes depend on."""

    output_dir: str
    name: str
    items: tuple[AnnotatedFrame, ...]
    window: int
    skip_bad: bool
    fingerprint: str


def shard_name(split: str, index: int, count: int) -> str:
    """"<split>-00000-of-000NN.tfrecord"."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def sha256_file(path: str) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(items: Sequence[AnnotatedFrame], window: int, skip_bad: bool) -> str:
    content = [CONVERTER_VERSION, window, skip_bad] + [
        [f.dataset, f.split, f.video_id, f.frame_number, f.num_frames,
         [[r.sentence, r.instance_id] for r in f.referrals]] for f in items]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()


def plan_shards(frames: Sequence[AnnotatedFrame], output_dir: str, split_name: str, *, window: int,
                shard_size: int, skip_bad: bool) -> list[ShardTask]:
    """Cuts the frames, sorted by (video, frame), into shards of `shard_size` (at least one shard)."""
    items = sorted(frames, key=lambda f: (f.video_id, f.frame_number))
    count = max(1, math.ceil(len(items) / shard_size))
    tasks = []
    for i in range(count):
        chunk = tuple(items[i * shard_size:(i + 1) * shard_size])
        tasks.append(ShardTask(output_dir, shard_name(split_name, i, count), chunk, window, skip_bad,
                               _fingerprint(chunk, window, skip_bad)))
    return tasks


def _marker_path(output_dir: str, name: str) -> str:
    return os.path.join(output_dir, MARKER_DIR, name + ".json")


def _write_json_atomic(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def completed_marker(task: ShardTask) -> dict[str, Any] | None:
    """The shard's marker if the shard is complete for these inputs (marker matches, file has its sha256)."""
    path = _marker_path(task.output_dir, task.name)
    shard = os.path.join(task.output_dir, task.name)
    if not (os.path.exists(path) and os.path.exists(shard)):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    if marker.get("fingerprint") != task.fingerprint or marker.get("sha256") != sha256_file(shard):
        return None
    return marker


def write_shard(task: ShardTask) -> dict[str, Any]:
    """Writes one shard (tmp file, then rename, then marker). Runs in a worker process.

    Returns:
        The marker: name, fingerprint, sha256, frames, samples, skipped (list of [source, reason, message]); or,
        on a DataError without skip_bad, {"name", "error": [source, message, reason]} and nothing is written.
    """
    import tensorflow as tf

    from acga_tf.data.schema import encode_example
    from acga_tf.data.video import load_sample

    final = os.path.join(task.output_dir, task.name)
    tmp = final + ".tmp"
    frames = samples = 0
    skipped: list[list[str]] = []
    with tf.io.TFRecordWriter(tmp) as writer:
        for frame in task.items:
            try:
                record = encode_example(frame, load_sample(frame, task.window))
            except DataError as e:
                if not task.skip_bad:
                    writer.close()
                    os.remove(tmp)
                    return {"name": task.name, "error": [e.source, e.message, e.reason]}
                skipped.append([e.source, e.reason, e.message])
                continue
            writer.write(record)
            frames += 1
            samples += len(frame.referrals)
    digest = sha256_file(tmp)
    os.replace(tmp, final)
    marker = {"name": task.name, "fingerprint": task.fingerprint, "sha256": digest, "frames": frames,
              "samples": samples, "skipped": skipped}
    os.makedirs(os.path.join(task.output_dir, MARKER_DIR), exist_ok=True)
    _write_json_atomic(_marker_path(task.output_dir, task.name), marker)
    return marker


def _raise_error(result: dict[str, Any]) -> None:
    source, message, reason = result["error"]
    raise DataError(source, message + " (use --skip-bad to leave such items out and list them in skipped.csv)",
                    reason=reason)


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for `convert(executor=...)`; "spawn" workers start clean (no forked TensorFlow state)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _run_local(tasks: list[ShardTask], workers: int, progress: bool, desc: str,
               executor: ProcessPoolExecutor | None) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    results = []
    with tqdm(total=sum(len(t.items) for t in tasks), unit="frame", desc=desc, disable=not progress,
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
            pending = {pool.submit(write_shard, t): t for t in tasks}  # one shard per task
            while pending:
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
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
    """Removes shards of this split not in the current plan (another shard count), and leftover .tmp files."""
    for entry in os.listdir(output_dir):
        path = os.path.join(output_dir, entry)
        if not entry.startswith(split_name + "-"):
            continue
        if entry.endswith(".tmp") or (entry.endswith(".tfrecord") and entry not in keep):
            logger.info("removing stale %s", path)
            os.remove(path)
            marker = _marker_path(output_dir, entry.removesuffix(".tmp"))
            if not entry.endswith(".tmp") and os.path.exists(marker):
                os.remove(marker)


def _read_manifest(output_dir: str) -> dict[str, Any] | None:
    path = os.path.join(output_dir, MANIFEST_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def _write_vocabulary(output_dir: str, vocabulary: str | Sequence[str], frames: Sequence[AnnotatedFrame]
                      ) -> tuple[int, str]:
    from acga_tf.data.vocab import Vocabulary

    path = os.path.join(output_dir, VOCAB_NAME)
    if isinstance(vocabulary, str):
        vocab = Vocabulary.load(vocabulary)
        source = f"copied from {vocabulary}"
    else:
        sentences = list(vocabulary) if vocabulary is not None else [r.sentence for f in frames for r in f.referrals]
        vocab = Vocabulary.build(sentences)
        source = f"built from {len(sentences)} sentences"
    vocab.save(path + ".tmp")
    os.replace(path + ".tmp", path)
    return len(vocab.words), source


def _write_skipped(output_dir: str, rows: Iterable[Sequence[str]]) -> str | None:
    rows = list(rows)
    path = os.path.join(output_dir, SKIPPED_NAME)
    if not rows:
        if os.path.exists(path):
            os.remove(path)
        return None
    with open(path + ".tmp", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "reason", "message"])
        w.writerows(rows)
    os.replace(path + ".tmp", path)
    return path


def convert(frames: Sequence[AnnotatedFrame], output_dir: str, *, split_name: str, dataset: str,
            window: int = DEFAULT_WINDOW, shard_size: int = DEFAULT_SHARD_SIZE, workers: int = 1,
            skip_bad: bool = False, vocabulary: str | Sequence[str] | None = None,
            reader_skipped: Sequence[Skipped] = (), runner: str = "local", beam_options: Sequence[str] = (),
            progress: bool = True, executor: ProcessPoolExecutor | None = None) -> dict[str, Any]:
    """Converts the annotated frames of one split to shards, then updates the vocabulary, manifest and skipped.csv.

    Args:
        frames: the split's annotated frames (from `read_a2d` / `read_jhmdb`).
        output_dir: created if missing; may hold other splits of the same dataset.
        split_name: "train" or "test": the shard prefix.
        dataset: "a2d" or "jhmdb" (recorded in the manifest).
        window: frames stored around the annotated frame (≥ the clip length T used later).
        shard_size: annotated frames per shard.
        workers: processes (local runner).
        skip_bad: leave out frames whose data is bad and list them in skipped.csv, instead of stopping.
        vocabulary: training sentences to build `vocab.txt` from, or the path of a vocabulary file to copy; None
            builds it from `frames`' own sentences.
        reader_skipped: items the dataset reader already left out (listed in skipped.csv).
        runner: "local" (process pool) or "beam" (`acga_tf.data.beam`, DirectRunner unless `beam_options` say).
        beam_options: Beam pipeline arguments, e.g. ["--runner=DirectRunner"].
        progress: show a tqdm progress bar on stderr.
        executor: a pool (`make_pool`) to reuse across calls instead of starting one for `workers` > 1.

    Returns:
        The summary: split, frames, samples, shards (name, sha256, frames, samples), skipped (count), output_dir.

    Raises:
        DataError: bad input without `skip_bad` (the message names the file and field).
        ValueError: bad arguments.
    """
    if split_name not in ("train", "test"):
        raise ValueError(f"split_name={split_name!r}: expected 'train' or 'test'")
    if window < 1 or shard_size < 1 or workers < 1:
        raise ValueError(f"window={window}, shard_size={shard_size}, workers={workers}: must be positive")
    if runner not in RUNNERS:
        raise ValueError(f"runner={runner!r}: expected one of {RUNNERS}")
    os.makedirs(os.path.join(output_dir, MARKER_DIR), exist_ok=True)

    tasks = plan_shards(frames, output_dir, split_name, window=window, shard_size=shard_size, skip_bad=skip_bad)
    _remove_stale(output_dir, split_name, {t.name for t in tasks})
    markers = {t.name: completed_marker(t) for t in tasks}
    todo = [t for t in tasks if markers[t.name] is None]
    if len(todo) < len(tasks):
        logger.info("%s: %d of %d shards already complete", split_name, len(tasks) - len(todo), len(tasks))
    if todo:
        if runner == "beam":
            from acga_tf.data.beam import run_beam

            results = run_beam(todo, beam_options)
        else:
            results = _run_local(todo, workers, progress, f"{dataset} {split_name}", executor)
        for r in results:
            if "error" in r:
                _raise_error(r)
            markers[r["name"]] = r

    shards = [{"file": t.name, "sha256": markers[t.name]["sha256"], "frames": markers[t.name]["frames"],
               "samples": markers[t.name]["samples"]} for t in tasks]
    skipped_rows = [row for t in tasks for row in markers[t.name]["skipped"]]
    split_summary = {"frames": sum(s["frames"] for s in shards), "samples": sum(s["samples"] for s in shards),
                     "num_shards": len(shards), "shard_size": shard_size, "skipped": len(skipped_rows),
                     "skipped_items": skipped_rows, "shards": shards}

    manifest = _read_manifest(output_dir) or {}
    if manifest.get("dataset") not in (None, dataset) or manifest.get("converter_version") != CONVERTER_VERSION \
            or manifest.get("clip", {}).get("window") != window:
        manifest = {}  # another dataset/version/window: start a fresh manifest
    vocab_size, vocab_source = _write_vocabulary(output_dir, vocabulary, frames)
    from acga_tf.data.schema import JPEG_QUALITY, SCHEMA_VERSION

    manifest.update({
        "dataset": dataset, "converter_version": CONVERTER_VERSION, "schema_version": SCHEMA_VERSION,
        "record": "tf.train.SequenceExample per annotated frame (acga_tf.data.schema)",
        "clip": {"window": window, "rule": CLIP_RULE, "frames": f"JPEG quality {JPEG_QUALITY}, original size"},
        "vocabulary": VOCAB_NAME, "vocabulary_size": vocab_size, "vocabulary_source": vocab_source,
    })
    manifest.setdefault("splits", {})[split_name] = split_summary
    manifest["samples"] = sum(s["samples"] for s in manifest["splits"].values())
    manifest["frames"] = sum(s["frames"] for s in manifest["splits"].values())
    # Items the reader left out belong to no shard: listed once, for the whole dataset.
    manifest["reader_skipped_items"] = [[s.source, s.reason, s.message] for s in reader_skipped]
    all_skipped = [row for s in manifest["splits"].values() for row in s["skipped_items"]]
    skipped_path = _write_skipped(output_dir, all_skipped + manifest["reader_skipped_items"])
    _write_json_atomic(os.path.join(output_dir, MANIFEST_NAME), manifest)
    summary = {"dataset": dataset, "split": split_name, "frames": split_summary["frames"],
               "samples": split_summary["samples"], "shards": shards,
               "skipped": len(skipped_rows) + len(reader_skipped), "skipped_csv": skipped_path,
               "output_dir": output_dir}
    logger.info("%s %s: %d samples (%d frames) in %d shards, %d skipped", dataset, split_name, summary["samples"],
                summary["frames"], len(shards), summary["skipped"])
    return summary


METADATA_NAME = "jhmdb_sentences_samples_metadata.json"  # MTTR's frozen J-HMDB frames (DATASETS.md §3.4)


def _read(dataset: str, root: str, *, skip_bad: bool, skipped: list, frames: str,
          metadata_path: str | None) -> list[AnnotatedFrame]:
    if dataset == "a2d":
        from acga_tf.data.a2d import read_a2d

        return read_a2d(root, "all", skip_bad=skip_bad, skipped=skipped)
    from acga_tf.data.jhmdb import read_jhmdb

    if frames == "metadata" and metadata_path is None:
        metadata_path = os.path.join(root, METADATA_NAME)
    return read_jhmdb(root, frames=frames, metadata_path=metadata_path, skip_bad=skip_bad, skipped=skipped)


def prepare(dataset: str, root: str, output: str, split: str = "all", *, workers: int = 1,
            shard_size: int = DEFAULT_SHARD_SIZE, skip_bad: bool = False, runner: str = "local",
            window: int = DEFAULT_WINDOW, frames: str = "uniform", metadata_path: str | None = None,
            vocabulary: str | None = None, beam_options: Sequence[str] = (), progress: bool = True,
            executor: ProcessPoolExecutor | None = None) -> list[dict[str, Any]]:
    """Reads a dataset and converts the requested split(s) (`convert`); vocab.txt is built from the TRAINING
    sentences (J-HMDB Sentences has no training split: pass the A2D `vocabulary`, or all its sentences are used).

    Args:
        dataset: "a2d" or "jhmdb".
        root: the dataset root (DATASETS.md §2.1, §3.1).
        output: output directory.
        split: "train", "test" or "all".
        workers, shard_size, skip_bad, runner, window, beam_options, progress: see `convert`.
        frames: J-HMDB frame choice, "uniform" or "metadata" (DATASETS.md §3.4).
        metadata_path: MTTR's metadata JSON for frames="metadata" (default: `root/` + `METADATA_NAME`).
        vocabulary: a vocabulary file to copy instead of building one.
        executor: a pool (`make_pool`) to use instead of starting one for `workers` > 1.

    Returns:
        One `convert` summary per split.

    Raises:
        DataError: bad input without `skip_bad`.
        ValueError: bad arguments, or a split with no annotated frame.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r}: expected one of {DATASETS}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    reader_skipped: list[Skipped] = []
    items = _read(dataset, root, skip_bad=skip_bad, skipped=reader_skipped, frames=frames,
                  metadata_path=metadata_path)
    by_split: dict[str, list[AnnotatedFrame]] = {"train": [], "test": []}
    for f in items:
        by_split.setdefault(f.split, []).append(f)
    wanted = [s for s in ("train", "test") if by_split[s]] if split == "all" else [split]
    for s in wanted:
        if not by_split[s]:
            raise ValueError(f"{root}: no annotated frame in the {s!r} split of {dataset}"
                             + (" (J-HMDB Sentences is test-only, spec §8)" if dataset == "jhmdb" else ""))
    if vocabulary is None:
        train_sentences = [r.sentence for f in by_split["train"] for r in f.referrals]
        if not train_sentences:
            logger.warning("%s has no training sentences: building the vocabulary from all its sentences (pass "
                           "the A2D vocab.txt to share the trained model's vocabulary)", dataset)
            train_sentences = [r.sentence for f in items for r in f.referrals]
        vocabulary = train_sentences
    if workers < 1:
        raise ValueError(f"workers={workers}: must be positive")
    own_pool = executor is None and workers > 1 and runner == "local"
    pool = make_pool(workers) if own_pool else executor  # one pool for every split
    try:
        return [convert(by_split[s], output, split_name=s, dataset=dataset, window=window, shard_size=shard_size,
                        workers=workers, skip_bad=skip_bad, vocabulary=vocabulary, reader_skipped=reader_skipped,
                        runner=runner, beam_options=beam_options, progress=progress, executor=pool)
                for s in wanted]
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipelines.convert a2d --root ...`: the same as `acga prepare a2d --root ...`."""
    from acga_tf.cli import main as acga_main

    return acga_main(["prepare", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
