"""Shards of the converter: the plan (which annotated frames go to which shard), the writer of one shard, and
its completion marker (docs/data.md#conversion).

Items are sorted by (video, frame) and cut into shards of `shard_size` annotated frames, so the bytes of each shard
depend only on its inputs and `window`, never on the number of workers or the runner (local pool or Beam). A
shard is written under a temporary name, renamed when complete, then its marker (fingerprint of its inputs,
sha256, counts) is written to `.shards/<shard>.json`.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
import secrets
from typing import Any, Sequence

import tensorflow as tf

from acga_tf.data.schema import encode_example
from acga_tf.data.types import AnnotatedFrame, DataError
from acga_tf.data.video import load_samples, without_bad_referrals
from acga_tf.ops import files

CONVERTER_VERSION = "1.0"
MARKER_DIR = ".shards"


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
    """Hex sha256 of a file (local or a bucket's, `tf.io.gfile`)."""
    h = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_digest(path: str, memo: dict[str, str] | None = None) -> str:
    """sha256 of an input's bytes: a file's, or a folder's files (names and bytes, in sorted order); "missing" when
    it does not exist. `memo` keeps the digests already computed (frames of one video share its files)."""
    if memo is not None and path in memo:
        return memo[path]
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                h.update(os.path.relpath(os.path.join(root, name), path).encode("utf-8") + b"\0")
                h.update(bytes.fromhex(sha256_file(os.path.join(root, name))))
        digest = h.hexdigest()
    elif os.path.isfile(path):
        digest = sha256_file(path)
    else:
        digest = "missing"
    if memo is not None:
        memo[path] = digest
    return digest


def _fingerprint(items: Sequence[AnnotatedFrame], window: int, skip_bad: bool, memo: dict[str, str]) -> str:
    """sha256 of everything a shard's bytes depend on: the converter's version and options, the annotations and
    the contents of every clip and mask file it reads (a repaired or replaced file makes the shard stale)."""
    content = [CONVERTER_VERSION, window, skip_bad] + [
        [f.dataset, f.split, f.video_id, f.frame_number, f.num_frames,
         [[r.sentence, r.instance_id] + ([input_digest(r.mask, memo), r.mask_value] if r.mask else [])
          + (["absent_ok"] if r.absent_ok else []) for r in f.referrals],  # your own data's masks are the
         # referrals' (the same list as before for A2D; "absent_ok" only where asked: earlier shards stay valid)
         input_digest(f.frames_path, memo), input_digest(f.mask_path, memo)] for f in items]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()


def plan_shards(frames: Sequence[AnnotatedFrame], output_dir: str, split_name: str, *, window: int,
                shard_size: int, skip_bad: bool) -> list[ShardTask]:
    """Cuts the frames, sorted by (video, frame), into shards of `shard_size` (at least one shard); each shard's
    fingerprint covers its annotations and its input files' contents (read once per file)."""
    items = sorted(frames, key=lambda f: (f.video_id, f.frame_number))
    count = max(1, math.ceil(len(items) / shard_size))
    tasks, memo = [], {}
    for i in range(count):
        chunk = tuple(items[i * shard_size:(i + 1) * shard_size])
        tasks.append(ShardTask(output_dir, shard_name(split_name, i, count), chunk, window, skip_bad,
                               _fingerprint(chunk, window, skip_bad, memo)))
    return tasks


def marker_path(output_dir: str, name: str) -> str:
    """The completion marker of shard `name`."""
    return os.path.join(output_dir, MARKER_DIR, name + ".json")


def completed_marker(task: ShardTask) -> dict[str, Any] | None:
    """The shard's marker if the shard is complete for these inputs (marker matches, file has its sha256)."""
    path = marker_path(task.output_dir, task.name)
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
    if "left_out_sentences" not in marker and marker.get("skipped"):  # written before 2026-12-07: the sentences
        return None  # it left out are not known, and the vocabulary must leave their words out: written again
    return marker


def write_shard(task: ShardTask, *, suffix: str = files.TEMPORARY_SUFFIX) -> dict[str, Any]:
    """Writes one shard (tmp file, then rename, then marker). Runs in a worker process.

    Args:
        task: the shard.
        suffix: the ending of its temporary names (the shard's and its marker's): the Beam runner gives each
            execution its own (`unique_suffix`), since a cluster may run one shard twice at once (a retried
            bundle), and one temporary name for both left a marker whose sha256 was not its shard's.

    Returns:
        The marker: name, fingerprint, sha256, frames, samples, empty_masks (samples whose actor has no pixel in
        the frame: kept, docs/data.md#datasets), skipped (list of [source, reason, message]), left_out_sentences
        (the sentence of each sample left out: the vocabulary leaves their words out); or,
        on a DataError without skip_bad, {"name", "error": [source, message, reason]} and nothing is written.
    """
    frames = samples = empty_masks = 0
    skipped: list[list[str]] = []
    left_out: list[str] = []
    try:
        with files.atomic_path(os.path.join(task.output_dir, task.name), suffix=suffix) as temporary:
            with tf.io.TFRecordWriter(temporary) as writer:
                for frame, sample in load_samples(task.items, task.window):  # a video decoded once
                    try:
                        if isinstance(sample, DataError):
                            raise sample
                        record = encode_example(frame, sample)
                    except DataError as e:
                        if not task.skip_bad:
                            raise
                        # one sentence's bad mask leaves out that sentence, not the frame's others
                        before = collections.Counter(r.sentence for r in frame.referrals)
                        frame, sample, rows = without_bad_referrals(frame, e, task.window)
                        skipped += rows
                        left_out += (before - collections.Counter(r.sentence for r in (frame.referrals if frame
                                                                                         else ()))).elements()
                        if frame is None:
                            continue
                        record = encode_example(frame, sample)
                    writer.write(record)
                    frames += 1
                    samples += len(frame.referrals)
                    empty_masks += sum(not mask.any() for mask in sample.masks)
            digest, size = sha256_file(temporary), os.path.getsize(temporary)
    except DataError as e:  # nothing is written; the driver raises it with the skip-bad hint
        return {"name": task.name, "error": [e.source, e.message, e.reason]}
    marker = {"name": task.name, "fingerprint": task.fingerprint, "sha256": digest, "bytes": size, "frames": frames,
              "samples": samples, "empty_masks": empty_masks, "skipped": skipped, "left_out_sentences": left_out}
    os.makedirs(os.path.join(task.output_dir, MARKER_DIR), exist_ok=True)
    files.write_json(marker_path(task.output_dir, task.name), marker, suffix=suffix)
    return marker


def unique_suffix() -> str:
    """A temporary-name ending of one's own, ".<16 hex digits>.tmp" (`manifest.SHARD_RE` knows it)."""
    return f".{secrets.token_hex(8)}{files.TEMPORARY_SUFFIX}"
