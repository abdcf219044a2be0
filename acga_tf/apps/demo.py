"""`acga demo`: the whole job on the built-in synthetic world, with the real pipeline at every step.

synthetic A2D Sentences world (mp4 + h5 + sentence files) → `acga prepare` shards → `train.fit` (tiny preset) →
evaluation (docs/evaluation.md#protocol) on the held-out split → SavedModel export → figures of predictions and
attention maps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import os
import time

import numpy as np
import tensorflow as tf

from acga_tf.apps import visualize
from acga_tf.apps.defaults import DEMO_PRESET, DEMO_TEST_FRACTION, DEMO_VIDEOS
from acga_tf.apps.evaluate import evaluate
from acga_tf.data.convert import prepare
from acga_tf.data.datasets import load_vectorizer
from acga_tf.data.decode import decode
from acga_tf.data.manifest import matching_shards
from acga_tf.data.synthetic import write_a2d_world
from acga_tf.models.metrics import EvaluationAccumulator
from acga_tf.ops import files
from acga_tf.ops.devices import require_tensorflow_backend
from acga_tf.ops.options import option
from acga_tf.serving.export import export_model
from acga_tf.training.artifacts import LARGEST_VERSION, MODEL_FILE, load_trained
from acga_tf.training.experiment import ExperimentConfig
from acga_tf.training.train import fit, mixed_precision_policy

logger = logging.getLogger(__name__)

MIN_DEMO_VIDEOS = 3  # the fewest with a held-out video: round(3 x 0.2) = 1 (and 2 to train on)
RUN_FOLDER = "run"  # the trained run, in the demo's folder
UNLEARNT_MARGIN = 0.05  # `unlearnt_attributes`: at most this far above the text-blind reference's mean IoU


@dataclasses.dataclass
class DemoResult:
    """What the demo measured and wrote."""

    summary: dict  # evaluation metrics (docs/evaluation.md#protocol) of the trained model on the held-out clips
    all_actors_summary: dict  # the same protocol for a text-blind predictor that returns every actor of the frame
    experiment: ExperimentConfig  # what was trained
    by_attributes: dict  # {attributes the sentence needs, e.g. ("colour", "shape"): (samples, mean IoU)}, held out
    unlearnt: dict  # `unlearnt_attributes(by_attributes, ...)`: {attribute: mean IoU} left at the text-blind level
    timings: dict  # seconds per stage
    paths: dict  # what was written where
    precision: tuple[str, str]  # the precision trained under (a key of PRECISIONS), and why


def all_actors_baseline(test_pattern: str) -> dict:
    """Evaluation metrics (docs/evaluation.md#protocol) of a text-blind oracle that predicts the union of every
    annotated actor of the frame.

    A model that ignores the sentence can at best find the actors; this is what finding all of them perfectly
    scores on the same held-out samples (the referred actor is one of several).
    """
    acc = EvaluationAccumulator()
    for serialized in tf.data.TFRecordDataset(matching_shards(test_pattern)):
        record = decode(serialized)
        masks = [tf.io.decode_png(m)[..., 0].numpy() > 0 for m in record["masks"].numpy()]
        union = np.any(masks, axis=0)
        for index, mask in enumerate(masks):
            acc.add(f"{record['video_id'].numpy().decode()}/{index}", union, mask)
    return acc.summary()


def mean_iou_by_attributes(results_csv: str, world: dict) -> dict[tuple[str, ...], tuple[int, float]]:
    """Mean IoU of the per-sample results (`evaluate`'s CSV) grouped by the attributes (colour, shape, motion) that
    the sample's sentence needs to single out its actor (`world`: `write_a2d_world`'s summary).

    Returns:
        `{("colour",): (samples, mean IoU), ("colour", "shape"): ..., ...}` for the attribute sets present, ordered by
        size then name.
    """
    import csv

    needed = {(vid, actor["instance_id"]): tuple(actor["attributes"])
              for vid, info in world["videos"].items() for actor in info["actors"]}
    groups: dict[tuple[str, ...], list[float]] = {}
    with open(results_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            vid, _, instance = row["sample_id"].split("/")  # video/frame/instance
            groups.setdefault(needed[(vid, int(instance))], []).append(float(row["iou"]))
    return {k: (len(v), float(np.mean(v))) for k, v in sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0]))}


def unlearnt_attributes(by_attributes: dict, reference_mean_iou: float, margin: float = UNLEARNT_MARGIN
                        ) -> dict[str, float]:
    """The attributes a demo run did not learn: those whose one-attribute sentences ("the red one") score within
    `margin` of the text-blind reference's mean IoU (`all_actors_baseline`), or below it.

    Measured after the demo's 5 epochs: colour-only sentences score 61 to 73 in runs that learnt colour, 28 to 30 in
    those that did not, with the reference at 28 (benchmarks/README.md, eighth and ninth sessions).

    Returns:
        `{attribute: mean IoU}` for each such attribute, e.g. `{"colour": 0.282}`.
    """
    return {names[0]: mean_iou for names, (_, mean_iou) in by_attributes.items()
            if len(names) == 1 and mean_iou < reference_mean_iou + margin}


@contextlib.contextmanager
def _on_this_machine():
    """The demo trains on this machine alone: a cluster's `TF_CONFIG`, set in the shell, is set aside while it trains
    (under it, `fit` waited for the cluster's other workers; worker 1 wrote its run under `workers/`)."""
    saved = os.environ.pop("TF_CONFIG", None)
    if saved is not None:
        logger.warning("TF_CONFIG is set: the demo trains on this machine alone, without it")
    try:
        yield
    finally:
        if saved is not None:
            os.environ["TF_CONFIG"] = saved


class _NoVectorsWarning(logging.Filter):
    """Drops the warning that no word vectors were given: the demo's invented words have none, by design (its
    sentences are told apart by a few words the model learns vectors for), and a first run's one warning reads as a
    fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("no word vectors given")


def finished_demo(output_dir: str) -> str | None:
    """The trained model of the demo `output_dir` holds (`run/model.keras`), or None: a demo into such a folder needs
    `overwrite` (`run_demo`)."""
    path = os.path.join(output_dir, RUN_FOLDER, MODEL_FILE)
    return path if os.path.isfile(path) else None


def run_demo(output_dir: str, *, n_videos: int | None = None, epochs: int | None = None, seed: int = 0,
             experiment: ExperimentConfig | None = None, mixed_precision: str = "auto",
             verbose: int = 1, progress: bool = True, overwrite: bool = False) -> DemoResult:
    """Runs the demo into `output_dir` (created) and returns what it measured.

    Args:
        output_dir: where the dataset, shards, run, SavedModel and figures go.
        n_videos: synthetic videos to generate (default `DEMO_VIDEOS`; at least `MIN_DEMO_VIDEOS`).
        epochs: training epochs, replacing the experiment's.
        seed: seed of the synthetic world.
        experiment: what to train (default: `ExperimentConfig.preset("demo")`).
        mixed_precision: "auto" (default): the precision `acga train --mixed-precision` picks
            (`mixed_precision_policy`): on a CPU fast in bfloat16, I3D in float32 and the rest in mixed_bfloat16,
            else float32 (a GPU: mixed_float16); or a name from `acga_tf.training.train.PRECISIONS`.
        verbose: Keras progress output (0 none, 1 a live bar, 2 one line an epoch).
        progress: the converter's and evaluation's progress bars (also none where `verbose` is 0).
        overwrite: run again into a folder that holds a finished demo (its run trained over, its figures replaced, the
            next SavedModel version exported); without it such a folder is refused, before anything is written (a
            second `acga demo` replaced the first's trained model, with a warning naming a flag the demo lacked).
            A demo stopped before its run finished is started over without it.
    """
    require_tensorflow_backend("the demo")  # before the world and the training: evaluation and export need it
    experiment = experiment or ExperimentConfig.preset(DEMO_PRESET)
    if epochs is not None:
        experiment = experiment.override(epochs=epochs)
    n_videos = DEMO_VIDEOS if n_videos is None else n_videos
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"{option('--seed ', 'seed=')}{seed!r}: must be a whole number in [0, 2**32 - 1]")  # (was
        # NumPy's, naming no field; the command's name under it: a notebook reviewer's)
    if n_videos < MIN_DEMO_VIDEOS:  # before any file: with no held-out video the demo trained, then failed
        raise ValueError(f"{option('--videos ', 'n_videos=')}{n_videos}: the demo needs at least {MIN_DEMO_VIDEOS} "
                         f"videos, {round(100 * DEMO_TEST_FRACTION)}% of them held out for evaluation (at least one)")
    paths = {k: os.path.join(output_dir, v) for k, v in {
        "dataset": "a2d_sentences", "shards": "tfrecords", "run": RUN_FOLDER, "saved_model": "saved_models/acga/1",
        "results_csv": "test_results.csv", "predictions_png": "predictions.png", "attention_png": "attention.png",
    }.items()}
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"{output_dir}: is a file; --output names the folder the demo writes into")
    files.check_writable(output_dir, folder=True, flag="--output")
    with files.locked_folder(output_dir, "--output"):  # a second demo into it now is refused
        if not overwrite and finished_demo(output_dir):
            raise ValueError(f"{output_dir}: holds a finished demo ({os.path.join(RUN_FOLDER, MODEL_FILE)}); pass "
                             "--overwrite to run it again (its model trained over), or choose another --output")
        return _run_demo(paths, experiment, n_videos, seed, mixed_precision, verbose, progress and verbose > 0)


def _run_demo(paths, experiment, n_videos, seed, mixed_precision, verbose, progress) -> DemoResult:
    """`run_demo`'s work, its folder locked."""
    timings = {}

    start = time.perf_counter()
    world = write_a2d_world(paths["dataset"], n_videos=n_videos, seed=seed, test_fraction=DEMO_TEST_FRACTION)
    timings["dataset"] = time.perf_counter() - start

    start = time.perf_counter()
    prepare("a2d", paths["dataset"], paths["shards"], "all", window=experiment.data.clip_length, progress=progress)
    timings["prepare"] = time.perf_counter() - start
    train_pattern = os.path.join(paths["shards"], "train-*.tfrecord")
    test_pattern = os.path.join(paths["shards"], "test-*.tfrecord")

    start = time.perf_counter()
    if mixed_precision == "auto":
        precision = mixed_precision_policy()
    else:
        precision = (mixed_precision, "asked for with --mixed-precision")
    quiet = _NoVectorsWarning()
    logging.getLogger(load_vectorizer.__module__).addFilter(quiet)
    try:
        with _on_this_machine():
            fit(experiment, train_pattern, paths["run"], mixed_precision=precision[0], overwrite=True,
                verbose=verbose)  # the demo owns its folder
    finally:
        logging.getLogger(load_vectorizer.__module__).removeFilter(quiet)
    timings["train"] = time.perf_counter() - start

    start = time.perf_counter()
    trained = load_trained(paths["run"])  # as saved; evaluated, exported and drawn from this one load
    summary = evaluate(trained, test_pattern, output_csv=paths["results_csv"], progress=progress)
    baseline = all_actors_baseline(test_pattern)
    by_attributes = mean_iou_by_attributes(paths["results_csv"], world)
    unlearnt = unlearnt_attributes(by_attributes, baseline["mean_iou"])
    timings["evaluate"] = time.perf_counter() - start

    start = time.perf_counter()
    base = os.path.dirname(paths["saved_model"])  # next free version number when the folder is reused
    versions = ([int(v) for v in os.listdir(base) if v.isdigit() and v.isascii() and int(v) <= LARGEST_VERSION]
                if os.path.isdir(base) else [])  # (a folder past TF Serving's versions is none of them)
    paths["saved_model"] = os.path.join(base, str(max(versions, default=0) + 1))
    # TF Serving's warmup file where its request protos are installed (`.[serving]`); the base install's demo
    # exports without it, and without export's warning about it on a first run
    export_model(trained, paths["saved_model"], warmup=importlib.util.find_spec("tensorflow_serving") is not None)
    timings["export"] = time.perf_counter() - start

    start = time.perf_counter()
    visualize.save_figure(visualize.qualitative_grid(trained, test_pattern, samples=6), paths["predictions_png"])
    test_video = next(v for v, info in sorted(world["videos"].items()) if info["split"] == "test")
    actor = max(world["videos"][test_video]["actors"], key=lambda a: len(a["attributes"]))
    video_path = os.path.join(paths["dataset"], "Release", "clips320H", f"{test_video}.mp4")
    maps = visualize.compute_attention(trained, video_path, actor["sentence"])
    visualize.save_figure(visualize.attention_figure(maps, maps.inner_point()), paths["attention_png"])
    timings["figures"] = time.perf_counter() - start
    return DemoResult(summary, baseline, experiment, by_attributes, unlearnt, timings, paths, precision)
