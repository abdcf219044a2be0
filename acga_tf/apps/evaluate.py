"""Evaluation with the official protocol (docs/evaluation.md#protocol): P@0.5…0.9, mAP@0.5:0.95, overall IoU and mean
IoU, each sample scored at its frame's ORIGINAL resolution.

The prediction is σ(logits) thresholded at 0.5 × its own maximum, mapped back to the frame's H × W by inverting the
letterbox (`acga_tf.ops.postprocess`), and compared with the ground-truth mask decoded from the shard
at its original size. Sentences are vectorized with the trained run's vocabulary and word vectors (not the
vocabulary beside the shards), so a J-HMDB split is scored with the A2D-trained model's words
(docs/evaluation.md#protocol).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import logging
import os
import re
import sys

import keras
import numpy as np
import tensorflow as tf

from acga_tf import __version__
from acga_tf.apps.predictors import own_function
from acga_tf.data.datasets import load_vectorizer, load_vocabulary, make_dataset
from acga_tf.data.manifest import (
    MANIFEST_NAME,
    VOCAB_NAME,
    as_given,
    damaged_shard_error,
    frame_choices,
    known_sample_count,
    matching_shards,
    partial_splits,
    pooled_conversions,
    shard_pattern,
    shard_records,
)
from acga_tf.data.shards import sha256_file
from acga_tf.models.metrics import (
    MAP_THRESHOLDS,
    PRECISION_THRESHOLDS,
    EvaluationAccumulator,
    summarize,
)
from acga_tf.ops import files, provenance, tables
from acga_tf.ops.config import positive_int
from acga_tf.ops.devices import require_tensorflow_backend
from acga_tf.ops.options import option
from acga_tf.ops.postprocess import mask_at_original_size
from acga_tf.ops.progress import keras_verbosity
from acga_tf.ops.wording import counted
from acga_tf.training import artifacts

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("sample_id", "sentence", "height", "width", "intersection", "union", "iou", "class_id")
# A2D's actor-action ids, 10 x actor + action (docs/evaluation.md#by-class): actors 1 to 7, actions 1 to 9.
A2D_ACTORS = ("adult", "baby", "ball", "bird", "car", "cat", "dog")
A2D_ACTIONS = ("climbing", "crawling", "eating", "flying", "jumping", "rolling", "running", "walking", "none")


def load_for_evaluation(model_path: str | artifacts.TrainedModel, data_dir: str, vectors_path: str | None = None):
    """`(model, vectorizer)` for `model_path`: a trained run (directory or its `model.keras`), a checkpoint
    `<run>/checkpoints/epoch-NN.keras` (the run's vocabulary is used), or a run already loaded (`TrainedModel`).

    A bare `.keras` file with no vocabulary beside it or its parent falls back to the vocabulary beside the shards in
    `data_dir` with `vectors_path`: refused where the file records other words (`artifacts.recorded_words`: a run's
    model or checkpoint copied away from its run trained with `--word-vectors`), used as they are where it records
    the same, and with a warning where it records none (a model saved by Keras alone: the words cannot be checked).

    Raises:
        FileNotFoundError: `model_path` does not exist.
        ValueError: the words beside the shards are not those the bare `.keras` file records.
    """
    if isinstance(model_path, artifacts.TrainedModel):
        return model_path.model, model_path.vectorizer()
    model_path = _checked_model(model_path)
    if os.path.isdir(model_path) or artifacts.run_directory(model_path) is not None:
        if vectors_path is not None:
            logger.warning("%s has its own word vectors (%s): %s%s is ignored", model_path,
                           artifacts.EMBEDDINGS_FILE, option("--word-vectors ", "vectors_path="), vectors_path)
        trained = artifacts.load_trained(model_path)
        return trained.model, trained.vectorizer()
    model = artifacts.load_model_file(model_path)
    vocabulary = load_vocabulary(data_dir)
    vectorizer = load_vectorizer(data_dir, model.config, vectors_path, vocabulary=vocabulary)
    words = f"the vocabulary beside the shards in {data_dir} (and {vectors_path or 'random word vectors'})"
    recorded = artifacts.recorded_words(model_path)
    if recorded is None:  # saved by Keras alone (a notebook's `model.save`), or by acga-tf before 2026-12-05
        logger.warning("%s has no %s beside it and records no digest of its words (a file saved by Keras alone, or "
                       "by acga-tf before 2026-12-05), so they cannot be checked: using %s; where it is a run's, put "
                       "the run's %s and %s beside it", model_path, artifacts.VOCAB_FILE, words, artifacts.VOCAB_FILE,
                       artifacts.EMBEDDINGS_FILE)
    elif recorded != artifacts.words_digest(vocabulary.words, vectorizer.matrix.numpy()):
        raise ValueError(f"{model_path}: was trained with other words than {words}: put its run's "
                         f"{artifacts.VOCAB_FILE} and {artifacts.EMBEDDINGS_FILE} beside it, or score it in its run's "
                         "folder")
    return model, vectorizer


def _checked_model(model_path):
    """`model_path` as a path (or the `TrainedModel` it is), refused where it names no model: before the shards are
    looked at, whose warnings came first (`acga evaluate --model demo_output`, the folder above the run)."""
    if isinstance(model_path, artifacts.TrainedModel):
        return model_path
    model_path = artifacts.as_model_path(model_path)
    if not os.path.exists(model_path):
        where = f" {note}" if (note := files.current_folder_note(model_path)) else ""
        raise FileNotFoundError(f"{model_path}: no such trained run or .keras model{where}")
    if os.path.isdir(model_path):
        artifacts.trained_files(model_path)
    return model_path


def evaluate(model_path: str | artifacts.TrainedModel, data_pattern: str, *, batch_size: int = 8,
             output_csv: str | None = None, vectors_path: str | None = None,
             progress: bool = False, output_json: str | None = None, by_class: bool = False) -> dict[str, float]:
    """Scores a trained model on prepared shards with the evaluation protocol (docs/evaluation.md#protocol) at the
    original resolution.

    Args:
        model_path: a trained run (`acga train` output directory or its `model.keras`), one of its checkpoints, or
            a run already loaded (`acga_tf.training.artifacts.TrainedModel`).
        data_pattern: glob of prepared shards (e.g. "data/a2d/test-*.tfrecord", "data/jhmdb/test-*.tfrecord").
        batch_size: samples per forward pass.
        output_csv: where to write one row per sample (`CSV_COLUMNS`); None writes none.
        vectors_path: word vectors, only for a bare `.keras` model with no vocabulary of its own.
        progress: show a progress bar (for the CLI).
        output_json: where to write the summary with what was scored (`summary_record`), to compare runs by; None
            writes none.
        by_class: also return the scores by A2D actor and by action (`class_breakdown`), as `by_class`.

    Returns:
        The summary (fractions): `P@0.5` … `P@0.9`, `mAP@0.5:0.95`, `overall_iou`, `mean_iou`, `samples`; with
        `by_class`, also `by_class`: `class_breakdown`'s dict.

    Raises:
        FileNotFoundError: no shard matches, or the model is missing.
        ValueError: `output_csv` cannot be written, batch_size is not positive, the shards hold no sample, or Keras
            runs another backend than TensorFlow.
        OSError: writing `output_csv` failed after the evaluation (a full disk): the message names it, and a note
            gives the scores.
    """
    model_path = _checked_model(model_path)
    data_pattern, shards, batch_size = _checked(data_pattern, batch_size, output_csv, output_json, model_path)
    summary, rows, record = _score_model(model_path, data_pattern, shards, batch_size, vectors_path, progress)
    done = (f"{counted(summary['samples'], 'sample')}: mean IoU {100 * summary['mean_iou']:.1f}%, overall IoU "
            f"{100 * summary['overall_iou']:.1f}%, mAP {100 * summary['mAP@0.5:0.95']:.1f}%")  # ("1.0" read as 1)
    _write_outputs(done, ((output_csv, lambda: write_csv(output_csv, rows)),
                          (output_json, lambda: files.write_json(output_json, record))))
    logger.info("evaluated %d samples of %s: %s", summary["samples"], as_given(data_pattern), summary)
    return {**summary, "by_class": record["by_class"]} if by_class else summary


def evaluate_checkpoints(folder: str, data_pattern: str, *, batch_size: int = 8, vectors_path: str | None = None,
                         progress: bool = False, output_json: str | None = None) -> dict[str, dict[str, float]]:
    """Scores every checkpoint of a run's `checkpoints/` folder (`run_checkpoints`) as `evaluate` does, to pick an
    epoch (`acga evaluate --model RUN/checkpoints`).

    Returns:
        `{checkpoint file name: summary}`, in epoch order.

    Raises:
        as `evaluate`; ValueError also where `folder` holds no checkpoint. `output_json` gets the list of the
        checkpoints' `summary_record`s.
    """
    checkpoints = run_checkpoints(folder)
    if not checkpoints:
        raise ValueError(f"{folder}: holds no checkpoint (epoch-NN.keras) of a run")
    data_pattern, shards, batch_size = _checked(data_pattern, batch_size, None, output_json, folder)
    summaries, records = {}, []
    for number, checkpoint in enumerate(checkpoints, 1):
        if progress:  # which checkpoint the bar below counts (else five alike "235/235" lines)
            print(f"{os.path.basename(checkpoint)} ({number} of {len(checkpoints)})", file=sys.stderr, flush=True)
        summary, _, record = _score_model(checkpoint, data_pattern, shards, batch_size, vectors_path, progress)
        summaries[os.path.basename(checkpoint)] = summary
        records.append(record)
    done = "mean IoU " + ", ".join(f"{name} {100 * s['mean_iou']:.1f}%" for name, s in summaries.items())
    _write_outputs(done, ((output_json, lambda: files.write_json(output_json, records)),))
    return summaries


def _checked(data_pattern: str, batch_size: int, output_csv: str | None, output_json: str | None, model=None):
    """`evaluate`'s arguments checked before any work: (the shards' pattern, the shards, the batch size). An output
    may name none of what is read (`_inputs`), nor the other output (the CSV was lost under the JSON)."""
    require_tensorflow_backend("evaluation")
    batch_size = positive_int("batch_size", batch_size)
    if not isinstance(data_pattern, (str, os.PathLike)):  # (a list failed six calls deep in `re`: a tester's)
        raise TypeError(f"data_pattern is a {type(data_pattern).__name__}: give the shards as one glob, a str (e.g. "
                        "'data/test-*.tfrecord')")
    data_pattern = shard_pattern(data_pattern)
    shards = matching_shards(data_pattern)
    csv_flag, json_flag = option("--output-csv", "output_csv"), option("--output-json", "output_json")
    if (output_csv is not None and output_json is not None and files.same_file(output_csv, output_json)
            and not files.output_path(output_csv)[1]):  # (both to /dev/null, a pipe: as predict's)
        raise ValueError(f"{output_json}: {csv_flag} and {json_flag} name the same path")
    inputs = _inputs(shards, model) if output_csv is not None or output_json is not None else []
    for output, flag in ((output_csv, csv_flag), (output_json, json_flag)):
        if output is not None:
            files.check_not_input(output, inputs, flag)
            files.check_writable(output, flag=flag)  # before the evaluation, not after it
    _check_distinct(shards)
    if isinstance(model, (str, os.PathLike)) and (problem := run_experiment(artifacts.run_directory(model))[1]):
        logger.warning(problem)
    for line in [*partial_splits(shards), *pooled_conversions(shards)]:
        logger.warning(line)
    if trained := [os.path.basename(s) for s in shards if os.path.basename(s).startswith("train-")]:
        logger.warning("%s %s a training split's shard (train-*): a score on what the model may have trained on; the "
                       "published tables score the test split (test-*.tfrecord, docs/evaluation.md#protocol)",
                       trained[0] if len(trained) == 1 else f"{len(trained)} of the shards, {trained[0]} first,",
                       "is" if len(trained) == 1 else "are each")
    return data_pattern, shards, batch_size


def _inputs(shards: list[str], model) -> list[tuple[str, str]]:
    """What an evaluation reads, as `files.check_not_input` takes it: the shards, the manifest and vocabulary beside
    them, and the model's files (`artifacts.model_files`), which an output written over them would have destroyed
    (`--output-csv` naming the shard scored, `--output-json RUN/embeddings.npy`; docs/reliability.md)."""
    data = option("--data", "data_pattern")
    inputs = [(shard, f"one of the shards read ({data})") for shard in shards]
    for folder in dict.fromkeys(os.path.dirname(shard) for shard in shards):
        inputs += [(os.path.join(folder, name), f"the shards' {name}") for name in (MANIFEST_NAME, VOCAB_NAME)]
    return inputs + artifacts.model_inputs(model)


def _check_distinct(shards: list[str]) -> None:
    """Refuses two shards with the same bytes (a copy under another name matched by the pattern), whose samples
    would each be scored twice; only files of equal size are read."""
    by_size: dict[int, list[str]] = {}
    for shard in shards:
        by_size.setdefault(tf.io.gfile.stat(shard).length, []).append(shard)
    if set(by_size) == {0}:  # (said "the dataset is empty", naming no file, once the model had loaded: a reviewer's)
        raise ValueError(f"{shards[0]}: no sample in the shard (an empty file)" if len(shards) == 1 else
                         f"{shards[0]} and the {len(shards) - 1} other shards matched: no sample in them (empty "
                         "files)")
    for same_size in (group for size, group in by_size.items() if len(group) > 1 and size):  # (empty files hold no
        # sample to score twice: they were "the same shard")
        digests: dict[str, str] = {}
        for shard in same_size:
            digest = sha256_file(shard)
            if digest in digests:
                raise ValueError(f"{shard} and {digests[digest]} are the same shard (identical bytes): its samples "
                                 "would be scored twice; give each shard once")
            digests[digest] = shard


def _score_model(model_path, data_pattern: str, shards: list[str], batch_size: int, vectors_path: str | None,
                 progress: bool) -> tuple[dict[str, float], list, dict]:
    """One model scored on the shards: (its summary, the per-sample rows, its `summary_record`)."""
    model, vectorizer = load_for_evaluation(model_path, os.path.dirname(shards[0]), vectors_path)
    dataset = make_dataset(data_pattern, model.config, training=False, batch_size=batch_size,
                           vectorizer=vectorizer, with_info=True)

    def probability(inputs, targets):
        return tf.sigmoid(tf.cast(model(inputs, training=False)["logits"], tf.float32))  # (B, S, S, 1)

    # XLA as Keras chooses: on a GPU, not on a CPU (docs/training.md#xla); one trace per checkpoint, counted apart;
    # no AutoGraph, as the predictor's (no tensor-dependent Python control flow here: converting the model's call
    # printed "AutoGraph could not transform <ACGA>" at every evaluation, a notebook reviewer's)
    probability = own_function(probability, jit_compile=model.jit_compile, autograph=False)

    try:
        summary, rows = score(dataset, probability, progress=progress, total=known_sample_count(data_pattern))
    except tf.errors.DataLossError as e:  # "corrupted record at N", naming no shard: find it
        raise damaged_shard_error([data_pattern], e) from None
    if (note := unknown_words_note(vectorizer, [row[1] for row in rows])) is not None:
        logger.warning(note)
    record = summary_record(summary, model_path, model.config, data_pattern, shards, batch_size,
                            weights=artifacts.arrays_digest(model.weights), precision=model.precision,
                            word_vectors=artifacts.arrays_digest([vectorizer.matrix]))
    record["by_class"] = class_breakdown(rows)
    return summary, rows, record


def _write_outputs(done: str, writers) -> None:
    """Runs each `(path, write)` whose path is given, its folder made first, each whatever the others did; the first
    OSError (a full disk) is raised after them with a note of the scores computed (`done`), so that they are not lost
    with the files, and of every file not written (the JSON went unmentioned, and unwritten, after the CSV failed)."""
    failed = []
    for output, write in writers:  # (`acga evaluate --output-json -` writes /dev/stdout: "standard output")
        if output is None:
            continue
        try:
            os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
            write()
        except OSError as e:
            if e.filename == "/dev/stdout":
                e = OSError(e.errno, e.strerror, _named(output))
            failed.append((output, e))
    if failed:
        names = " and ".join(_named(output) for output, _ in failed)
        error = failed[0][1]
        error.add_note(f"the evaluation finished ({done}) but {names} {'was' if len(failed) == 1 else 'were'} not "
                       "written")
        raise error


def _named(output: str) -> str:
    return "standard output" if output == "/dev/stdout" else output


def unknown_words_note(vectorizer, sentences: list[str]) -> str | None:
    """A line saying how many of the scored sentences have words outside the model's vocabulary (read as zero
    vectors, docs/data.md#pipeline) and which, or None. `acga predict` warns of them sentence by sentence; else an
    evaluation scores such sentences 0 without a word."""
    distinct = sorted(set(sentences))
    if not distinct:
        return None
    described = vectorizer.describe(tf.constant(distinct))
    unknown = [text.decode("utf-8").split() for text in described["unknown_words"].numpy()]
    hit = {sentence for sentence, words in zip(distinct, unknown) if words}
    if not hit:
        return None
    words = sorted({word for words in unknown for word in words})
    count = sum(sentence in hit for sentence in sentences)
    shown = ", ".join(repr(w) for w in words[:8]) + (f" and {len(words) - 8} more" if len(words) > 8 else "")
    have = "has" if count == 1 else "have"
    return (f"{count} of the {counted(len(sentences), 'sample')} {have} words this model does not know, read as zero "
            "vectors: "
            f"{shown} (a vocabulary or word vectors that lack them; docs/data.md#pipeline)")


def score(dataset: tf.data.Dataset, probability, *, progress: bool = False,
          total: int | None = None) -> tuple[dict[str, float], list[tuple]]:
    """The evaluation loop (docs/evaluation.md#protocol): `probability(inputs, targets)` → `(B, S, S, 1)` probabilities
    for each batch of `dataset` (`make_dataset(..., training=False, with_info=True)`), scored at each frame's original
    resolution. With `progress`, a bar of `total` samples (None: unknown) on stderr, as predict's (stdout keeps the
    table: `acga evaluate ... > scores.md`), live on a terminal or in a notebook; where stderr is a file or a pipe,
    one line at the end (`acga_tf.ops.progress`; the bar's redrawing wrote backspaces and carriage
    returns into logs, and, with no total, never ended its line, so the table printed after it began on its line).

    Returns:
        `(summary, rows)`: the `metrics.summarize` dict and one `CSV_COLUMNS` tuple per sample.

    Raises:
        ValueError: the dataset is empty, a sample is read twice, or the model's probabilities are not numbers.
    """
    accumulator, rows, seen = EvaluationAccumulator(), [], set()
    bar = keras.utils.Progbar(total, unit_name="sample", verbose=keras_verbosity(sys.stderr)) if progress else None
    try:  # stopped (Ctrl-C, SIGTERM): how far it got, and that no score was written (not
        # `acga evaluate: terminated`, alone)
        for inputs, targets, info in dataset:
            probs = np.asarray(probability(inputs, targets), np.float32)
            if not np.isfinite(probs).all():  # NaN: every mask empty, scored as a poor model's (a reviewer's)
                first = int(np.flatnonzero(~np.isfinite(probs).reshape(len(probs), -1).all(axis=1))[0])
                raise ValueError(f"the model's probabilities for sample {info['sample_id'][first].numpy().decode()} "
                                 "are not numbers (NaN): its weights are not finite (a run that diverged, saved "
                                 "outside `acga train`?); no score was written")
            for b in range(probs.shape[0]):
                height, width = int(info["height"][b]), int(info["width"][b])
                truth = tf.io.decode_png(info["mask_png"][b], channels=1).numpy()[..., 0] > 0  # (H, W)
                prediction = mask_at_original_size(probs[b, ..., 0], height, width)
                sample_id, sentence = (info[key][b].numpy().decode("utf-8") for key in ("sample_id", "sentence"))
                if (sample_id, sentence) in seen:  # a shard given twice (a copy under another name) counted it twice
                    raise ValueError(f"sample {sample_id} ({sentence!r}) is read a second time: the shards given hold "
                                     "it twice (one shard under two names?); give each shard once")
                seen.add((sample_id, sentence))
                iou = accumulator.add(sample_id, prediction, truth)
                rows.append((sample_id, sentence, height, width,
                             accumulator.intersections[-1], accumulator.unions[-1], iou,
                             int(info["class_id"][b]) if "class_id" in info else 0))  # (a dataset of one's own)
            if bar is not None:
                with contextlib.redirect_stdout(sys.stderr):  # Keras writes its bar to stdout: the table's, in a file
                    bar.update(len(rows), finalize=False)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"after {len(rows):,}{f' of {total:,}' if total else ''} samples; no score was "
                                "written") from None
    if bar is not None and rows:
        with contextlib.redirect_stdout(sys.stderr):
            bar.update(len(rows), finalize=True)  # ends its line, whatever the total
    if not rows:
        raise ValueError("no sample to evaluate: the dataset is empty")
    return accumulator.summary(), rows


def summary_record(summary: dict, model, config, data_pattern: str, shards: list[str], batch_size: int,
                   weights: str | None = None, precision: str | None = None, word_vectors: str | None = None) -> dict:
    """What `acga evaluate --output-json` writes: the scores (fractions, as `evaluate` returns them) and what was
    scored, so that two runs' evaluations can be compared by a script: the model (its path, or the directory of a
    run given loaded), a digest of its weights (`weights`: a run trained again in place is another model) and of the
    word vectors it read the sentences with (`word_vectors`: the digest the run's provenance.json records), the
    checkpoint's epoch where it is one (`epoch-NN.keras`), its `ACGAConfig` (which ablation it is) and, where the
    model is in a run's folder, the run's `experiment.json` (the schedule too: runs of a sweep differ there), the
    shards (each with its size and the manifest's sha256), how their frames were chosen where the manifest says
    (`frame_choice`: J-HMDB's uniform or MTTR's frames, docs/evaluation.md#protocol), the batch size and the
    precision it computed in (in bfloat16 a sample's score depends on the batch it is in, docs/evaluation.md), the
    acga-tf version, the software
    (`provenance.software`: the source commit too, since every version so far is 0.1.0) and the time; `evaluate`
    adds `by_class` (`class_breakdown`)."""
    where = model.directory if isinstance(model, artifacts.TrainedModel) else os.fspath(model)
    run = artifacts.run_directory(where) if where else None
    epoch = re.fullmatch(r"epoch-(\d+)\.keras", os.path.basename(where or ""))
    return {"scores": {key: summary[key] for key in summary},
            "model": os.path.abspath(where), "weights": weights, "word_vectors": word_vectors,
            "epoch": int(epoch.group(1)) if epoch else None,
            "config": config.to_dict(),
            "experiment": run_experiment(run)[0],
            "data": as_given(data_pattern),  # as given (a folder "[1]" is globbed escaped: shard_pattern)
            "shards": shard_records(shards), "frame_choice": frame_choices(shards), "batch_size": batch_size,
            "precision": precision, "acga_tf": __version__,
            "software": provenance.software(), "host": provenance.host(), "evaluated": provenance.now()}


def run_experiment(run: str | None) -> tuple[object, str | None]:
    """(the run's `experiment.json` as read, or None; why it could not be read, or None): the record is
    informational, as to `predict` and `export`, which do not read it, so an unreadable one is recorded as None with a
    warning (`_checked`, before the work) rather than refused (it failed the finished evaluation, naming no file)."""
    path = None if run is None else os.path.join(run, artifacts.EXPERIMENT_FILE)
    if path is None or not os.path.isfile(path):
        return None, None
    try:
        return files.read_json(path), None
    except (OSError, ValueError, tf.errors.OpError) as e:  # (JSONDecodeError: a ValueError)
        reason = (f"not JSON ({e})" if isinstance(e, json.JSONDecodeError) else
                  f"not read ({getattr(e, 'message', None) or getattr(e, 'strerror', None) or e})")
        return None, f"{path}: {reason}; the scores are written with no experiment recorded"


def write_csv(path: str, rows) -> None:
    """Writes per-sample rows (`CSV_COLUMNS`; IoU with 6 decimals) to `path` (a sentence that a spreadsheet would run
    as a formula starts with `'`: `tables.spreadsheet_text`; the sample ids are the dataset's, A2D's YouTube ids
    starting with `-` among them, kept as they are to join on)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with files.atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for sample_id, sentence, height, width, inter, union, iou, class_id in rows:
            writer.writerow((sample_id, tables.spreadsheet_text(sentence), height, width, inter, union, f"{iou:.6f}",
                             class_id))


def class_name(class_id: int) -> tuple[str, str]:
    """(actor, action) of an A2D actor-action id, 10 x actor + action (docs/evaluation.md#by-class); a digit outside
    A2D's lists as "actor k" / "action k"."""
    actor, action = divmod(int(class_id), 10)
    return (A2D_ACTORS[actor - 1] if 1 <= actor <= len(A2D_ACTORS) else f"actor {actor}",
            A2D_ACTIONS[action - 1] if 1 <= action <= len(A2D_ACTIONS) else f"action {action}")


def class_breakdown(rows) -> dict:
    """The scores by A2D actor and by action (docs/evaluation.md#by-class) of per-sample rows (`CSV_COLUMNS`):
    `{"actor": {name: summary}, "action": {name: summary}, "unknown": samples without a class id}`, the names in
    A2D's order, each summary `metrics.summarize`'s; empty "actor" and "action" where no sample has a class id
    (J-HMDB, your own data, shards written before 2026-12-06)."""
    groups: dict[str, dict[str, list]] = {"actor": {}, "action": {}}
    unknown = 0
    for row in rows:  # (each table sorted below, in A2D's order)
        if row[7] <= 0:
            unknown += 1
            continue
        for kind, name in zip(("actor", "action"), class_name(row[7])):
            groups[kind].setdefault(name, []).append(row)
    order = {"actor": {name: k for k, name in enumerate(A2D_ACTORS)},
             "action": {name: k for k, name in enumerate(A2D_ACTIONS)}}
    out = {kind: {name: summarize(np.array([r[4] for r in members]), np.array([r[5] for r in members]))
                  for name, members in sorted(by_name.items(), key=lambda item: (order[kind].get(item[0], 99),
                                                                                  item[0]))}
           for kind, by_name in groups.items()}
    out["unknown"] = unknown
    return out


def format_table(summary: dict[str, float] | dict[str, dict[str, float]], first: str = "model") -> str:
    """The paper's results table (percentages, one decimal) as Markdown: P@0.5…0.9, mAP@0.5:0.95, overall IoU,
    mean IoU, and the sample count; given `{name: summary}` (models, or classes), one row each, its name first
    under the heading `first`."""
    keys = [f"P@{k}" for k in PRECISION_THRESHOLDS] + ["mAP@0.5:0.95", "overall_iou", "mean_iou"]
    names = [f"P@{k}" for k in PRECISION_THRESHOLDS] + [
        f"mAP@{MAP_THRESHOLDS[0]}:{MAP_THRESHOLDS[-1]}", "Overall IoU", "Mean IoU"]
    named = summary if all(isinstance(v, dict) for v in summary.values()) else {None: summary}
    first = [] if None in named else [first]
    header = "| " + " | ".join(first + names + ["samples"]) + " |"
    rule = "|" + "|".join([" --- "] * len(first) + [" ---: "] * (len(names) + 1)) + "|"
    rows = ["| " + " | ".join(([] if name is None else [name]) + [f"{100 * row[k]:.1f}" for k in keys])
            + f" | {row['samples']} |" for name, row in named.items()]
    return "\n".join((header, rule, *rows))


def run_checkpoints(path) -> list[str]:
    """The checkpoints (`epoch-NN.keras`, in epoch order) of a run's `checkpoints/` folder given as the model, to
    score each and pick an epoch (`acga evaluate --model RUN/checkpoints`); [] for anything else."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        return []
    if os.path.exists(os.path.join(path, artifacts.MODEL_FILE)):  # a run's own folder: its final model
        return []
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(path)), "epoch-*.keras")))


def evaluate_masks(probabilities, truths, sample_ids=None) -> tuple[dict[str, float], np.ndarray]:
    """The official protocol on NumPy arrays (docs/evaluation.md#protocol).

    Args:
        probabilities: per sample σ(logits) at the model's `(S, S)` or `(S, S, 1)` letterboxed resolution, values in
            [0, 1] (logits are refused: thresholded as they are, they scored near 0 without a word).
        truths: per sample the ground-truth mask `(H, W)` (or `(H, W, 1)`, as an image is read) at the frame's
            original resolution; every pixel that is not 0 is the actor's (a soft mask's 0.3 included: binarise it
            first for another rule).
        sample_ids: optional ids, for error messages.

    Returns:
        (summary dict as `summarize`, per-sample IoUs).

    Raises:
        ValueError: the counts differ, a sample's shapes are not those above (named), or its values lie outside
            [0, 1] (logits?).
    """
    probabilities, truths = list(probabilities), list(truths)
    if len(probabilities) != len(truths) or (sample_ids is not None and len(sample_ids) != len(truths)):
        given = "" if sample_ids is None else f", {len(sample_ids)} sample_ids"
        raise ValueError(f"evaluate_masks: {len(probabilities)} probabilities and {len(truths)} truths{given}: "
                         "expected one of each a sample")
    acc = EvaluationAccumulator()
    for index, (prob, truth) in enumerate(zip(probabilities, truths)):
        truth, prob = np.asarray(truth), np.asarray(prob, np.float32)
        name = sample_ids[index] if sample_ids is not None else f"sample {index}"
        truth = truth[..., 0] if truth.ndim == 3 and truth.shape[2] == 1 else truth
        if truth.ndim != 2:
            raise ValueError(f"evaluate_masks: {name}'s truth has the shape {truth.shape}; expected the frame's (H, W) "
                             "mask")
        if 0 in truth.shape:  # (TensorFlow's "unletterbox: height=0" named an inner function)
            raise ValueError(f"evaluate_masks: {name}'s truth has the shape {truth.shape}, no pixel; expected the "
                             "frame's (H, W) mask")
        if (prob.ndim not in (2, 3) or prob.shape[0] != prob.shape[1] or prob.shape[2:] not in ((), (1,))
                or prob.size == 0):  # (an empty one: TensorFlow's "Cannot compute the max of an empty tensor")
            # (a batch's (1, S, S, 1) was "cannot reshape array of size 256 into shape (1,1,16,1)", a 16 x 20 map
            # TensorFlow's "height must be >= target + offset": a metrics tester's)
            raise ValueError(f"evaluate_masks: {name}'s probabilities have the shape {prob.shape}; expected the "
                             "model's square output, (S, S) or (S, S, 1), one sample at a time")
        if prob.size and not (0.0 <= float(prob.min()) and float(prob.max()) <= 1.0):  # (NaN fails both)
            raise ValueError(f"evaluate_masks: {name} has values from {float(prob.min()):g} to {float(prob.max()):g}; "
                             "expected probabilities in [0, 1], σ(logits): pass keras.ops.sigmoid(logits), not the "
                             "logits")
        prediction = mask_at_original_size(prob, truth.shape[0], truth.shape[1])
        acc.add(sample_ids[index] if sample_ids is not None else str(index), prediction, truth)
    return acc.summary(), acc.ious()
