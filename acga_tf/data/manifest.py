"""The converter's `manifest.json` (docs/data.md#manifest): the one reader every consumer uses.

The manifest beside the shards records the dataset, the splits with each shard's name, sha256 and sample count,
the clip policy (`window`), the vocabulary file and the converter version.
"""

from __future__ import annotations

import glob
import json
import os
import re
import struct
from typing import Any, Iterable, Sequence

import tensorflow as tf

from acga_tf.ops import files
from acga_tf.ops.errors import error_message

MANIFEST_NAME = "manifest.json"
CONVERTING_KEY = "converting"  # the manifest's list of splits `acga prepare` began converting again, not finished
SHARD_RE = re.compile(r"^(train|test)-\d{5}-of-\d{5}\.tfrecord((\.[0-9a-f]{16})?\.tmp)?$")  # what
# `shards.shard_name` writes, with its temporary names (`shards.unique_suffix`'s too)
VOCAB_NAME = "vocab.txt"


def read_manifest(directory: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
    """The `manifest.json` in `directory`.

    Args:
        directory: the converter's output folder.
        missing_ok: return None (instead of raising) when there is no manifest or it is not valid JSON; the
            converter uses this to start a fresh one.

    Raises:
        FileNotFoundError: no manifest there.
        ValueError: not valid JSON (the message names the file and line).
    """
    path = os.path.join(directory, MANIFEST_NAME)
    if not tf.io.gfile.exists(path):
        if missing_ok:
            return None
        raise FileNotFoundError(f"{path}: no manifest (run `acga prepare` to write the shards and manifest)")
    try:
        manifest = files.read_json(path)
    except ValueError as e:  # not JSON, or not UTF-8 (`files.read_json` names the file)
        if missing_ok:
            return None
        if isinstance(e, json.JSONDecodeError):
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        raise
    if not isinstance(manifest, dict):
        if missing_ok:
            return None
        raise ValueError(f"{path}: expected a JSON object")
    if (problem := _splits_problem(manifest.get("splits", {}))) is not None:  # a wrong type was a traceback
        if missing_ok:
            return None
        raise ValueError(f"{path}: {problem} (`acga prepare` writes it; run it again into that folder)")
    return manifest


def _splits_problem(splits) -> str | None:
    """What is wrong with a manifest's "splits" (the part every reader walks), or None: an object of splits, each
    with a list of "shards", each an object with a "file" name."""
    if not isinstance(splits, dict):
        return "\"splits\" is not an object of splits"
    for name, split in splits.items():
        if not isinstance(split, dict) or not isinstance(split.get("shards", []), list):
            return f"split {name!r} has no list of \"shards\""
        shards = split.get("shards", [])
        if any(not isinstance(shard, dict) or not isinstance(shard.get("file"), str) for shard in shards):
            return f"a shard of split {name!r} is not an object with a \"file\" name"
    return None


_GIVEN: dict[str, str] = {}  # an escaped pattern (`shard_pattern`) -> the pattern as its user wrote it


def as_given(pattern: str) -> str:
    """A pattern as its user wrote it, where `shard_pattern` escaped it (a folder "dados [teste]": "dados [[]teste]"):
    what messages and records show."""
    return _GIVEN.get(pattern, pattern)


def shard_pattern(file_pattern):
    """A glob of shards (or a list of them) as TensorFlow's file functions take it: `pathlib.Path`s become str; a
    file that exists as written, or a glob in a folder that does, is taken literally there (`glob.escape`): `[` is a
    glob character, and a user's folder named "dados [teste]" matched no shard, the demo's own output folder too."""
    if isinstance(file_pattern, (list, tuple)):
        return [shard_pattern(p) for p in file_pattern]
    pattern = os.fspath(file_pattern)
    if "://" in pattern or not files.GLOB_CHARACTERS.search(pattern):
        return pattern
    escaped = glob.escape(pattern) if os.path.exists(pattern) else None
    parts = pattern.split(os.sep)
    for end in range(len(parts) - 1, 0, -1) if escaped is None else ():  # the longest leading folder that exists
        folder = os.sep.join(parts[:end])  # as written ("a [1]/*/x-*")
        if folder and files.GLOB_CHARACTERS.search(folder) and os.path.isdir(folder):
            escaped = os.sep.join([glob.escape(folder), *parts[end:]])
            break
    if escaped is None or escaped == pattern:
        return pattern
    _GIVEN[escaped] = _GIVEN.get(pattern, pattern)
    return escaped


def matching_shards(file_pattern, hint: str = "") -> list[str]:
    """The files `file_pattern` (a glob, or a list of them) matches, sorted.

    Raises:
        FileNotFoundError: none matches; the message names the pattern, the current folder where the pattern is
            relative (`--data 'nosuch/*'` typed in another folder), then `hint`.
    """
    file_pattern = shard_pattern(file_pattern)
    matched = sorted(tf.io.gfile.glob(file_pattern))
    if not matched:
        note = files.current_folder_note(file_pattern) if isinstance(file_pattern, str) else ""
        shown = as_given(file_pattern) if isinstance(file_pattern, str) else file_pattern
        raise FileNotFoundError(f"{shown}: no TFRecord file matches{' ' + note if note else ''}{hint}")
    return matched


def count_samples(file_pattern: str) -> int:
    """Samples (one per sentence) in the shards matching `file_pattern`, from the manifest beside them.

    Raises:
        FileNotFoundError: no file matches, or there is no manifest beside them.
        ValueError: a matched shard is not listed in the manifest.
    """
    file_pattern = shard_pattern(file_pattern)
    shards = matching_shards(file_pattern)
    total, listed = 0, {}
    for f in shards:  # each shard by the manifest beside it (a glob over two folders read the first one's for both)
        directory, name = os.path.dirname(f), os.path.basename(f)
        if directory not in listed:
            manifest = read_manifest(directory)
            listed[directory] = {s.get("file"): s.get("samples") for split in manifest.get("splits", {}).values()
                                 for s in split.get("shards") or ()}
        if name not in listed[directory]:
            raise ValueError(f"{directory}/{MANIFEST_NAME}: shard {name!r} (matched by {file_pattern!r}) is not "
                             "listed")
        samples = listed[directory][name]
        if isinstance(samples, bool) or not isinstance(samples, int):  # (a KeyError's traceback: a reviewer's)
            raise ValueError(f"{directory}/{MANIFEST_NAME}: shard {name!r} records no sample count")
        total += samples
    return total


def _by_folder(files: list[str]) -> list[tuple[str, dict[str, Any], set[str]]]:
    """(folder, the manifest beside it or {}, the names of `files` in it) for each folder of `files`, in order: what
    the records of the shards read take from the manifest beside each."""
    return [(directory, read_manifest(directory, missing_ok=True) or {},
             {os.path.basename(f) for f in files if os.path.dirname(f) == directory})
            for directory in sorted({os.path.dirname(f) for f in files})]


def shard_records(files: list[str]) -> list[dict[str, Any]]:
    """What identifies each shard of `files` in a record of what was read (a run's `provenance.json`, an evaluation's
    JSON): its path, size and the sha256 the converter recorded in the manifest beside it (None where none is)."""
    listed = {directory: {s["file"]: s.get("sha256") for split in manifest.get("splits", {}).values()
                          for s in split["shards"]} for directory, manifest, _ in _by_folder(files)}
    return [{"file": os.path.abspath(f), "bytes": tf.io.gfile.stat(f).length,
             "sha256": listed[os.path.dirname(f)].get(os.path.basename(f))} for f in files]


def frame_choices(files: list[str]) -> dict[str, Any] | None:
    """How the annotated frames of the splits `files` take shards of were chosen, by the manifests beside them
    (J-HMDB's uniform or metadata frames: `{"<folder>/<split>": choice}`), or None where no manifest says."""
    choices = {}
    for directory, manifest, taken in _by_folder(files):
        for name, split in manifest.get("splits", {}).items():
            if "frame_choice" in split and taken & {s["file"] for s in split.get("shards") or ()}:
                choices[f"{os.path.abspath(directory)}/{name}"] = split["frame_choice"]
    return choices or None


def partial_splits(files: list[str]) -> list[str]:
    """A line for each split of which `files` take some shards but not all, by the manifest beside them (shards
    without one say nothing): an evaluation of part of a split, from a pattern that matched less than its author
    meant, would print a table of part of the test set as the whole (a metrics auditor's)."""
    lines = []
    for directory, manifest, taken in _by_folder(files):
        for name, split in manifest.get("splits", {}).items():
            listed = {s["file"]: int(s.get("samples") or 0) for s in split.get("shards") or ()}
            if 0 < len(taken & listed.keys()) < len(listed):
                have = sum(listed[f] for f in taken & listed.keys())
                lines.append(f"{os.path.abspath(directory)}: {len(taken & listed.keys())} of the {name} split's "
                             f"{len(listed)} shards matched: the scores are of {have:,} of its "
                             f"{sum(listed.values()):,} samples")
    return lines


def pooled_conversions(files: list[str]) -> list[str]:
    """A line for each pair of folders of `files` whose manifests' splits (those `files` take shards of) hold the
    same videos, whose samples a score would then count once per folder, and one where the folders hold conversions
    of different datasets: a pattern matching the shards of several conversions (`data/*/test-*.tfrecord`) scored
    J-HMDB's videos twice, without a word (a tester's)."""
    folders = []
    for directory, manifest, taken in _by_folder(files):
        splits = [split for split in manifest.get("splits", {}).values()
                  if taken & {s["file"] for s in split.get("shards") or ()}]
        if splits:
            folders.append((os.path.abspath(directory), manifest.get("dataset"),
                            {video for split in splits for video in split.get("videos") or ()}))
    lines = []
    datasets = sorted({str(dataset) for _, dataset, _ in folders if dataset})
    if len(datasets) > 1:
        lines.append(f"the shards are of {len(folders)} conversions of {' and '.join(datasets)} "
                     f"({', '.join(directory for directory, _, _ in folders)}): one score pools them, where the "
                     "published tables score each dataset alone")
    for k, (directory, dataset, videos) in enumerate(folders):
        for other, other_dataset, other_videos in folders[k + 1:]:
            if dataset == other_dataset and (both := sorted(videos & other_videos)):
                lines.append(f"{directory} and {other} hold the same videos ({len(both)} of them, {both[0]} "
                             "first): one score counts those videos once for each folder; give one folder's shards")
    return lines


def known_sample_count(file_pattern: str) -> int | None:
    """`count_samples`, or None where the shards have no manifest that lists them (`make_dataset` reads such shards
    too): for progress totals and dataset lengths, which can do without it."""
    try:
        return count_samples(file_pattern)
    except (FileNotFoundError, ValueError):
        return None


def unlisted_shards(paths: Sequence[str], manifest: dict[str, Any]) -> list[str]:
    """Those of `paths` named as the converter names its shards (`SHARD_RE`) that `manifest` does not list: a
    conversion's that did not finish, or that an earlier one wrote with other settings (another window) before a
    later conversion of the other split started the manifest afresh."""
    listed = {s["file"] for split in manifest.get("splits", {}).values() for s in split.get("shards", ())}
    return [path for path in paths if SHARD_RE.match(os.path.basename(path)) and os.path.basename(path) not in listed]


def check_shard_sizes(files: list[str], manifest: dict[str, Any]) -> None:
    """Checks each shard against the size the converter recorded in the manifest (a cheap integrity check, so a
    truncated or replaced shard is named before TensorFlow fails deep inside `tf.data` with a `DataLossError`).

    A matched file the manifest does not list (`manifest.json` itself, matched by `folder/*`, say) gets
    `check_tfrecord_files`.

    Raises:
        ValueError: a shard's size differs from the manifest's, or an unlisted file is not a TFRecord file (the
            message names the file).
    """
    recorded = {s["file"]: s.get("bytes") for split in manifest.get("splits", {}).values() for s in split["shards"]}
    for path in files:
        match = SHARD_RE.match(os.path.basename(path))
        if match and match.group(1) in manifest.get(CONVERTING_KEY, []):
            raise ValueError(f"{path}: `acga prepare` began converting the {match.group(1)} split again and did not "
                             "finish (its shards may be of two conversions); run it again into that folder to finish, "
                             "once what stopped it is mended (a row its message named; or --skip-bad)")
    if unlisted := unlisted_shards(files, manifest):  # (read, a re-run's part-written set passed for the whole)
        raise ValueError(f"{unlisted[0]}: a shard {MANIFEST_NAME} does not list (left by a conversion that did not "
                         "finish, or by an earlier one with other settings); run `acga prepare` into that folder again "
                         "for its split, with the settings the manifest records")
    check_tfrecord_files(sorted(path for path in files if os.path.basename(path) not in recorded))
    for path in files:
        expected = recorded.get(os.path.basename(path))
        if expected is not None and tf.io.gfile.stat(path).length != expected:
            raise ValueError(f"{path}: {tf.io.gfile.stat(path).length} bytes, but {MANIFEST_NAME} records {expected} "
                             "(the shard was truncated or changed after `acga prepare`); re-run `acga prepare` into "
                             "that folder to rewrite it")


def damaged_shard_error(file_patterns, error: tf.errors.DataLossError) -> ValueError:
    """The error to raise for TensorFlow's `DataLossError` while reading shards ("corrupted record at N", which names
    no file): a ValueError naming the first shard matched by `file_patterns` (globs; None skipped) that cannot be read
    through. Each shard is read to its end, which is done only once the error has happened: the shards' sizes are
    checked up front (`check_shard_sizes`), their bytes are not."""
    # TensorFlow's "truncated record at 1959529' failed with Read less bytes than requested": its stray quote dropped
    reason = re.sub(r"(record at \d+)' failed with ", r"\1: ", error_message(error).splitlines()[0])
    damaged = first_unreadable(path for pattern in file_patterns if pattern is not None
                               for path in sorted(tf.io.gfile.glob(shard_pattern(pattern))))
    if damaged is not None:
        return ValueError(f"{damaged}: damaged ({reason}); re-run `acga prepare` into that folder to rewrite it (its "
                          "shards' sha256 are checked then)")
    return ValueError(reason)


def first_unreadable(paths: Iterable[str]) -> str | None:
    """The first of `paths` (TFRecord files) that cannot be read through to its end ("corrupted record at N"), or
    None. Each is read whole, in order, until one fails: for after a `DataLossError`, which names no file."""
    for path in paths:
        try:
            tf.data.TFRecordDataset(path).reduce(0, lambda count, _: count + 1)
        except tf.errors.DataLossError:
            return path
    return None


def check_tfrecord_files(files: list[str]) -> None:
    """Checks the first record's framing of each file, for shards with no manifest to check their sizes against: a
    file that is not a TFRecord file (a video matched by too wide a glob, say) or that ends within its first record is
    named before TensorFlow fails inside `tf.data` ("corrupted record at 0", naming no file).

    Read in Python (`first_record_problem`): TensorFlow's reader also printed a line of its own first, "Local
    rendezvous is aborting with status: DATA_LOSS".

    Raises:
        ValueError: the file's problem, naming the file.
    """
    for path in files:
        problem = first_record_problem(path)
        if problem is not None:
            raise ValueError(f"{path}: {problem} (`acga prepare` writes the shards and their {MANIFEST_NAME})")


# A TFRecord file is records of: length (uint64, little-endian), the length's masked CRC-32C (uint32), the data, the
# data's masked CRC-32C (uint32) (tensorflow/core/lib/io/record_writer.h).
_RECORD_HEADER = struct.Struct("<QI")
_CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli's, reflected


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum of `data`: CRC-32C, rotated right by 15 bits plus 0xA282EAD8 (record_writer.h's Mask)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def first_record_problem(path: str) -> str | None:
    """Why `path` cannot be a TFRecord file, from its first record's header: None where the header's checksum holds
    and the file holds the whole record (or the file is empty: a shard of no record); the record's data is not
    checked (`damaged_shard_error` names a shard damaged further in)."""
    if tf.io.gfile.isdir(path):
        return "a folder, not a TFRecord file"
    with tf.io.gfile.GFile(path, "rb") as f:  # gfile: gs:// and other file systems TensorFlow reads
        header, size = f.read(_RECORD_HEADER.size), f.size()
    if not header:
        return None
    if len(header) < _RECORD_HEADER.size:
        return f"not a TFRecord file ({size} bytes, fewer than a record's header)"
    length, checksum = _RECORD_HEADER.unpack(header)
    if masked_crc32c(header[:8]) != checksum:
        return "not a TFRecord file (its first bytes are no record header)"
    if size < _RECORD_HEADER.size + length + 4:
        return (f"truncated: its first record is {length} bytes, but the file ends {size - _RECORD_HEADER.size} bytes "
                "after the record's header")
    return None
