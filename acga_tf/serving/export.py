"""Export a trained ACGA run as a TF Serving SavedModel (docs/serving.md#signatures).

`export_model(run, "saved_models/acga/1")` writes, with `tf.saved_model.save`, a SavedModel whose graph
does everything a client would otherwise have to reproduce, in stock TF ops only (no `py_function`):

    serving_default   video uint8 [B, T, H, W, 3], query string [B]
                      → mask uint8 [B, H, W] ({0, 1}), empty bool [B], score float32 [B],
                        probability float32 [B, H, W]
    segment_queries   video uint8 [T, H, W, 3], queries string [Q]
                      → mask uint8 [Q, H, W], empty bool [Q], score float32 [Q], probability float32 [Q, H, W]
                        (I3D runs once)
    segment_encoded   frames string [T] (PNG or JPEG images, at most 8K UHD each), queries string [Q]
                      → as segment_queries (for REST clients: a frame is one `{"b64": ...}` string, not JSON numbers)
    segment_encoded_png  as segment_encoded → mask_png_bytes string [Q] (each mask a greyscale PNG, 0 and 255, at
                      the frames' H × W), empty bool [Q], score float32 [Q]: no probability (a REST answer of
                      kilobytes, not megabytes)
    describe_queries  queries string [Q] → words, known_words int32 [Q], unknown_words string [Q],
                      clip_length, image_size, sentence_length int32 scalars

The segmenting signatures: letterbox to S × S and scale to [-1, 1] (`data/parse.py`), tokenise and look up word
vectors (the run's `SentenceVectorizer`, a tracked hash table), the model, σ, the relative threshold (≥ 0.5 × the
maximum over the frame's own pixels: padding is never an answer, docs/evaluation.md#protocol) and the inverse
letterbox back to the input's own H × W; `empty` says a mask has no foreground pixel, `score` is the maximum the
threshold was taken from (the model's confidence that the actor is in the frame: the mask is never empty for a
low one, docs/serving.md#scores). The result is for the clip's
centre frame: send the T = `clip_length` frames centred on the frame to segment. H and W may differ from request to
request.

Bad requests (wrong rank or channel count, T ≠ clip_length, zero frames, empty frames, an empty query, a query
with no vocabulary word among its first L words, batch sizes that disagree) fail in the graph with an
`InvalidArgumentError` that says what is wrong; a wrong dtype is rejected by the signature itself. The server
stays up either way.

TF Serving layout: `<base>/<name>/<version>/` (the version folder is an integer), written to a temporary
sibling and renamed into place so a watching server never sees half a model, with warmup requests in
`assets.extra/tf_serving_warmup_requests` and an example `<base>/models.config`.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from acga_tf.data.decode import decode_images, ended_images, header_sizes
from acga_tf.data.text import typable_words
from acga_tf.data.types import MAX_FRAME_PIXELS
from acga_tf.data.vocab import check_length, check_sentences
from acga_tf.models.config import ACGAConfig
from acga_tf.ops import files, provenance
from acga_tf.ops.devices import require_tensorflow_backend
from acga_tf.ops.errors import deferred_interrupts, error_message
from acga_tf.ops.geometry import preprocess_clip
from acga_tf.ops.options import option
from acga_tf.ops.postprocess import PEAK_FRAME, logits_outputs
from acga_tf.serving import client as serving
from acga_tf.training import artifacts
from acga_tf.training.artifacts import TrainedModel, as_trained, float32_twin

logger = logging.getLogger(__name__)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
PROVENANCE_FILE = os.path.join("assets.extra", "acga_provenance.json")  # TF Serving reads only the warmup file
# The words the model knows (the run's vocab.txt; the graph holds them as a table, which a loaded SavedModel does not
# list): named where a sentence has none of them (else a refused sentence lists no words for an export)
VOCAB_EXPORT_FILE = os.path.join("assets.extra", "vocab.txt")
MODELS_CONFIG = "models.config"
# Warmup frames are small: the graph letterboxes any H × W to S × S, so the model runs at full size anyway.
WARMUP_FRAME_SIZE = (48, 64)
# The most pixels an encoded frame may declare (8K UHD, 7680 × 4320, as the video reader), read from its header before
# it is decoded: a PNG of a few megabytes can declare 30000 × 30000 pixels (2.7 GB decoded, 16 times per request).
MAX_ENCODED_PIXELS = MAX_FRAME_PIXELS


class ServingModule(tf.Module):
    """The serving graph of one trained model: preprocessing, model, threshold and inverse letterbox.

    Args:
        model: an `ACGA` model (RGB modality).
        vectorizer: the run's `SentenceVectorizer` (strings → (B, L, D) word vectors).

    Raises:
        ValueError: the model is not an RGB model (the signatures take uint8 RGB frames), or the vectorizer's
            L/D differ from the config's.
    """

    def __init__(self, model: keras.Model, vectorizer: tf.Module):
        super().__init__(name="acga_serving")
        config: ACGAConfig = model.config
        if config.modality != "rgb":
            raise ValueError(f"export serves RGB frames, but the model's config.modality is {config.modality!r}")
        if (vectorizer.sentence_length, vectorizer.dim) != (config.sentence_length, config.word_dim):
            raise ValueError(f"the vectorizer gives (L, D) = ({vectorizer.sentence_length}, {vectorizer.dim}) but "
                             f"the config has sentence_length={config.sentence_length}, word_dim={config.word_dim}")
        self.model = model
        self.vectorizer = vectorizer
        self.config = config

    # === Request checks (in the graph, so TF Serving answers INVALID_ARGUMENT instead of failing later) ===
    # Shapes are fixed with reshape + set_shape, not tf.ensure_shape: the runtime checks ensure_shape's shape
    # function against the actual input before any assert could run, which would hide the messages below.
    def _check_video(self, video: tf.Tensor, batched: bool) -> tf.Tensor:
        """Returns `video` with static shape [(B,) T, None, None, 3] once every check has passed."""
        t = self.config.clip_length
        layout = "[B, T, H, W, 3]" if batched else "[T, H, W, 3]"
        rank = 5 if batched else 4
        with tf.control_dependencies([_require(tf.equal(tf.rank(video), rank),
                                               f"video must be uint8 {layout} (rank {rank}); got a tensor of rank",
                                               tf.rank(video))]):
            shape = tf.shape(video)
            dims = tf.stack([shape[i] for i in range(rank)])
        checks = [
            _require(tf.equal(shape[-1], 3), f"video must be uint8 {layout}: RGB frames with 3 channels; got "
                                             "channels", shape[-1]),
            _require(shape[-4] > 0, f"video has zero frames: {layout} needs T = {t} frames (clip_length) centred on "
                                    "the frame to segment"),
            _require(tf.equal(shape[-4], t), f"video must have T = {t} frames (clip_length of the model) in {layout}; "
                                             "got T", shape[-4]),
            _require(shape[-3] * shape[-2] > 0, "video frames are empty (H or W is 0)"),
        ]
        if batched:
            checks.append(_require(shape[0] > 0, "empty batch: video has B = 0 clips"))
        with tf.control_dependencies(checks):
            video = tf.reshape(video, dims)
        video.set_shape(([None] if batched else []) + [t, None, None, 3])
        return video

    def _check_queries(self, queries: tf.Tensor, name: str, count: tf.Tensor | None) -> tf.Tensor:
        """Returns `queries` with static shape [None] once it is a non-empty vector of non-empty sentences."""
        letter = "B" if count is not None else "Q"
        with tf.control_dependencies([_require(tf.equal(tf.rank(queries), 1),
                                               f"{name} must be a string vector [{letter}]; got a tensor of rank",
                                               tf.rank(queries))]):
            size = tf.size(queries)
        if count is not None:
            check = _require(tf.equal(size, count), f"{name} must have one sentence per clip: B differs between "
                                                    "video and query; sentences, clips:", size, count)
        else:
            check = _require(size > 0, f"{name} is empty: send at least one sentence")
        with tf.control_dependencies([check]):
            queries = tf.reshape(queries, [-1])
        return check_sentences(self.vectorizer, queries)

    # === Graph pieces ===
    def segment(self, video: tf.Tensor, query: tf.Tensor) -> dict[str, tf.Tensor]:
        """`serving_default`: video uint8 [B, T, H, W, 3], query string [B] → mask, probability [B, H, W], empty,
        score [B]."""
        video = self._check_video(video, batched=True)
        query = self._check_queries(query, "query", tf.shape(video)[0])
        height, width = tf.shape(video)[2], tf.shape(video)[3]
        inputs = {"video": preprocess_clip(video, self.config.image_size), "words": self.vectorizer(query)}
        logits = self.model(inputs, training=False)["logits"]  # (B, S, S, 1)
        return logits_outputs(logits, height, width, peak=PEAK_FRAME)

    def segment_queries(self, video: tf.Tensor, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """`segment_queries`: video uint8 [T, H, W, 3], queries string [Q] → mask, probability [Q, H, W], empty,
        score [Q].

        The I3D stage runs once; the text encoder, attention and decoder run on the Q queries as a batch.
        """
        return self._segment_clip(video, queries)

    def segment_encoded(self, frames: tf.Tensor, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """`segment_encoded`: frames string [T], each a PNG or JPEG image, queries string [Q] → as `segment_queries`
        on the decoded frames.

        For REST clients: in JSON a uint8 `video` costs about 4 bytes a pixel value, a PNG frame in `{"b64": ...}`
        about 1.33 bytes per byte of the file (docs/serving.md#signatures). Each frame's size is read from its header
        and refused above `MAX_ENCODED_PIXELS` before anything is decoded.
        """
        return self._segment_clip(self._decoded(frames), queries)

    def segment_encoded_png(self, frames: tf.Tensor, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """`segment_encoded_png`: as `segment_encoded` → mask_png_bytes string [Q] (each mask a greyscale PNG of 0
        and 255 at the frames' H × W, as `acga predict --frames-dir` writes them), empty bool [Q], score float32 [Q].

        No probability: a REST answer for one 1920 × 1080 clip and sentence is 53 MB with it (47 MB of
        `probability` as JSON numbers); TF Serving writes an output whose name ends in `_bytes`
        as `{"b64": ...}`, so a mask costs its PNG in base64 (docs/serving.md#signatures)."""
        outputs = self._segment_clip(self._decoded(frames), queries, probabilities=False)
        png = tf.map_fn(lambda mask: tf.io.encode_png(mask[..., None] * 255), outputs["mask"],
                        fn_output_signature=tf.TensorSpec([], tf.string))
        return {"mask_png_bytes": png, "empty": outputs["empty"], "score": outputs["score"]}

    def _decoded(self, frames: tf.Tensor) -> tf.Tensor:
        """T encoded frames → uint8 [T, H, W, 3], once their count and the sizes their headers declare have passed
        (both encoded signatures)."""
        t = self.config.clip_length
        with tf.control_dependencies([_require(tf.equal(tf.rank(frames), 1), "frames must be a string vector [T] of "
                                               "encoded images; got a tensor of rank", tf.rank(frames))]):
            frames = tf.reshape(frames, [-1])
        with tf.control_dependencies([_require(tf.equal(tf.size(frames), t), f"frames must hold T = {t} encoded "
                                               "images (clip_length of the model), centred on the frame to segment; "
                                               "got T", tf.size(frames))]):
            sizes = header_sizes(frames, "frames")  # (T, 2)
        pixels = sizes[:, 0] * sizes[:, 1]
        # One after another, so that a request failing two says the first (a header of 0 x 0 was called "more than
        # 8K"), and nothing is decoded before the headers have passed.
        checks = [
            lambda: tf.debugging.Assert(tf.reduce_all(sizes > 0), [
                "frames must each be at least 1 x 1 pixel; their headers declare H, W =", sizes], summarize=2 * t),
            lambda: tf.debugging.Assert(tf.reduce_all(sizes <= MAX_ENCODED_PIXELS) & tf.reduce_all(
                pixels <= MAX_ENCODED_PIXELS), [  # (each side too: 4294967295² is past int64, negative)
                f"frames must have at most {MAX_ENCODED_PIXELS} pixels each (8K UHD, 7680 x 4320); their headers "
                "declare H, W =", sizes], summarize=2 * t),
            lambda: tf.debugging.Assert(tf.reduce_all(sizes == sizes[0]), [
                "frames must all be the size of the first one; their headers declare H, W =", sizes], summarize=2 * t),
            lambda: _whole(frames, t),
        ]
        passed = []
        for check in checks:
            with tf.control_dependencies(passed):
                passed = [check()]
        with tf.control_dependencies(passed):
            return decode_images(frames, channels=3)

    def _segment_clip(self, video: tf.Tensor, queries: tf.Tensor, probabilities: bool = True
                      ) -> dict[str, tf.Tensor]:
        """One clip uint8 [T, H, W, 3] and Q sentences → mask, probability [Q, H, W], empty, score [Q] (the clip
        signatures; without probability where not `probabilities`)."""
        video = self._check_video(video, batched=False)
        queries = self._check_queries(queries, "queries", None)
        height, width = tf.shape(video)[1], tf.shape(video)[2]
        clip = preprocess_clip(video[None], self.config.image_size)  # (1, T, S, S, 3)
        logits = self.model.segment_queries(clip, self.vectorizer(queries))["logits"]  # (Q, S, S, 1)
        return logits_outputs(logits, height, width, peak=PEAK_FRAME, probabilities=probabilities)

    def describe_queries(self, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """`describe_queries`: queries string [Q] → what the model reads of each (`SentenceVectorizer.describe`:
        words, known_words, unknown_words [Q]) and the model's clip_length, image_size, sentence_length (scalars).
        Refuses nothing but a non-vector and a sentence over 64 KiB (`check_length`: tokenized, a 4 MB one held
        about 1 GB): clients call it to warn before segmenting (docs/serving.md#signatures)."""
        with tf.control_dependencies([_require(tf.equal(tf.rank(queries), 1),
                                               "queries must be a string vector [Q]; got a tensor of rank",
                                               tf.rank(queries))]):
            queries = check_length(tf.reshape(queries, [-1]))
        c = self.config
        return {**self.vectorizer.describe(queries), "clip_length": tf.constant(c.clip_length, tf.int32),
                "image_size": tf.constant(c.image_size, tf.int32),
                "sentence_length": tf.constant(c.sentence_length, tf.int32)}


def _whole(frames: tf.Tensor, t: int) -> tf.Operation:
    """Refuses encoded frames cut short (a file copied in part) or damaged (a PNG chunk's length past the file's end),
    naming them: TensorFlow's decoder said "Invalid PNG data, size N" of one of them, unnamed."""
    ended = ended_images(frames)
    return tf.debugging.Assert(tf.reduce_all(ended), [
        "frames must be whole images; these frames (counted from 0) end before their PNG IEND chunk or JPEG "
        "end-of-image marker, cut short or damaged:", tf.where(tf.logical_not(ended))[:, 0]], summarize=t)


def _require(condition: tf.Tensor, message: str, *values: tf.Tensor) -> tf.Operation:
    """A request check in the graph: TF Serving answers its failure INVALID_ARGUMENT "assertion failed: [message]
    [values]". (`tf.debugging.assert_equal`'s answer also carried "[Condition x == y did not hold element-wise:]" and
    the graph's tensor names, `[x (Rank_1:0) = ] [0] [y (assert_equal_7/y:0) = ] [1]`.)"""
    return tf.debugging.Assert(condition, [message, *values])


def _check_version_dir(output_dir: str) -> tuple[str, str, int]:
    output_dir = os.path.abspath(os.fspath(output_dir)).rstrip(os.sep)
    version, name_dir = os.path.basename(output_dir), os.path.dirname(output_dir)
    if not version.isdigit() or not version.isascii():
        raise ValueError(f"{output_dir}: the last folder must be an integer version, as TF Serving expects "
                         f"(e.g. saved_models/acga/1), got {version!r}")
    if int(version) > artifacts.LARGEST_VERSION:  # (TF Serving reads a version as int64: a larger one is not served)
        raise ValueError(f"{output_dir}: version {version} is past the largest TF Serving reads "
                         f"({artifacts.LARGEST_VERSION}, a 64-bit integer); export to a smaller version number")
    if os.path.exists(output_dir):
        raise ValueError(f"{output_dir}: already exists; export to a new version number (TF Serving serves the "
                         "highest one)")
    same = sorted(entry for entry in (os.listdir(name_dir) if os.path.isdir(name_dir) else ())
                  if entry.isdigit() and entry.isascii() and int(entry) == int(version))
    if same:  # (a serving reviewer's: 01 beside 1, both read as version 1 by TF Serving)
        raise ValueError(f"{output_dir}: version {int(version)} already exists as {os.path.join(name_dir, same[0])} "
                         "(TF Serving reads both as one number); export to a new version number")
    return output_dir, name_dir, int(version)


def models_config_text(name: str, base_path: str) -> str:
    """An example TF Serving `--model_config_file` (a `ModelServerConfig` text proto) serving `name` from
    `base_path`. Strings are written as protobuf text-format literals (quotes, backslashes and non-ASCII bytes
    escaped), so any folder name gives a file TF Serving parses (`tests/test_export.py` parses it with TF Serving's
    own `model_server_config_pb2`)."""
    return ("model_config_list {\n"
            "  config {\n"
            f"    name: {_proto_string(name)}\n"
            f"    base_path: {_proto_string(base_path)}\n"
            "    model_platform: \"tensorflow\"\n"
            "  }\n"
            "}\n")


def _proto_string(value: str) -> str:
    """`value` as a protobuf text-format string literal (C escapes of the UTF-8 bytes, in double quotes)."""
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in "\"\\":
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def readable_word(words, source: str) -> str | None:
    """The first of the model's `words` that a sentence can hold as written (the tokenizer reads it as itself: lower
    case, no punctuation), for the warmup requests; warns of those no sentence can match (a vocabulary built by hand,
    `Vocabulary(["Red", "don't"])`: every sentence's "red" was unknown). None where there is none."""
    words = list(words)
    readable = typable_words(words)
    if len(readable) < len(words):
        kept = set(readable)
        never = [word for word in words if word not in kept]
        logger.warning("%s: %d of the model's %d words can never match a sentence's, which the model reads as "
                       "acga_tf.data.text.tokenize does (in lower case, in compatibility form, apostrophes and "
                       "elongations dropped, split at other punctuation and between Han characters): %s%s", source,
                       len(never), len(words), ", ".join(map(repr, never[:5])), ", ..." if len(never) > 5 else "")
    return readable[0] if readable else None


def warmup_requests(config: ACGAConfig, query: str, model_name: str) -> list:
    """One `PredictionLog` per signature for `assets.extra/tf_serving_warmup_requests` (black frames, `query`).

    Raises:
        ImportError: tensorflow-serving-api is missing.
    """
    _, prediction_log_pb2, _ = serving.import_serving_apis()
    video = np.zeros((config.clip_length, *WARMUP_FRAME_SIZE, 3), np.uint8)
    pngs = np.array([serving.encode_png(f) for f in video], object)
    requests = [
        serving.predict_request({"video": video[None], "query": np.array([query], object)},
                                serving.DEFAULT_SIGNATURE, model_name),
        serving.predict_request({"video": video, "queries": np.array([query, query], object)},
                                serving.MULTI_QUERY_SIGNATURE, model_name),
        *(serving.predict_request({"frames": pngs, "queries": np.array([query], object)}, signature, model_name)
          for signature in (serving.ENCODED_SIGNATURE, serving.PNG_SIGNATURE)),
    ]
    return [prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=r)) for r in requests]


def write_warmup(export_dir: str, records: list) -> str:
    """Writes `PredictionLog` records to `<export_dir>/assets.extra/tf_serving_warmup_requests`; returns the path."""
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    return path


def trace_signatures(module: ServingModule) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """The five signatures of `module`, each traced once: {signature name: concrete function}.

    Concrete functions, not `tf.function`s, are what `tf.saved_model.save` gets: it would trace a `tf.function` again
    inside its save context, a tracing context of its own. `keras.export.ExportArchive` traced each endpoint twice
    that way: the tiny preset's export took about twice as long (docs/serving.md#export).
    """
    def concrete(method, *specs):
        return tf.function(method, input_signature=list(specs), autograph=False).get_concrete_function()

    return {
        serving.DEFAULT_SIGNATURE: concrete(module.segment, tf.TensorSpec(None, tf.uint8, name="video"),
                                            tf.TensorSpec(None, tf.string, name="query")),
        serving.MULTI_QUERY_SIGNATURE: concrete(module.segment_queries, tf.TensorSpec(None, tf.uint8, name="video"),
                                                tf.TensorSpec(None, tf.string, name="queries")),
        serving.ENCODED_SIGNATURE: concrete(module.segment_encoded, tf.TensorSpec(None, tf.string, name="frames"),
                                            tf.TensorSpec(None, tf.string, name="queries")),
        serving.PNG_SIGNATURE: concrete(module.segment_encoded_png, tf.TensorSpec(None, tf.string, name="frames"),
                                        tf.TensorSpec(None, tf.string, name="queries")),
        serving.DESCRIBE_SIGNATURE: concrete(module.describe_queries, tf.TensorSpec(None, tf.string, name="queries")),
    }


def export_record(trained: TrainedModel, source: str | None = None, *, host_paths: bool = True) -> dict:
    """`assets.extra/acga_provenance.json` (docs/serving.md#layout): where a served version came from, which its
    SavedModel does not say: the model given (`source`: a checkpoint's file; else the run's folder), a digest of the
    weights (as `acga evaluate --output-json` records it), the precision the export computes in, the config, the
    run's `experiment.json` and `provenance.json` where the run has them (one that cannot be read is left out with a
    warning), and the software and host of the export; without `host_paths`, each path (absolute, relative,
    Windows' or a URL) cut to its last name (`provenance.without_folders`)."""
    source = source or trained.directory  # the file given (a checkpoint), else the run's folder
    run = artifacts.run_directory(trained.directory) if trained.directory else None

    def run_file(name):
        path = None if run is None else os.path.join(run, name)
        if not path or not os.path.isfile(path):
            return None
        try:
            return files.read_json(path)
        except (ValueError, OSError) as e:  # a record is not what the export needs (a damaged one
            logger.warning("%s: not read into the export's record (%s)", path, e)  # would stop the export, unnamed)
            return None

    record = {"exported": provenance.now(), "model": os.path.abspath(source) if source else None,
              "weights": artifacts.arrays_digest(trained.model.weights), "precision": trained.model.precision,
              "config": trained.config.to_dict(),
              "experiment": run_file(artifacts.EXPERIMENT_FILE), "training": run_file(artifacts.PROVENANCE_FILE),
              "software": provenance.software(), "host": provenance.host()}
    return record if host_paths else provenance.without_folders(record)


def export_model(model_path: str | TrainedModel, output_dir: str, *, warmup: bool = True,
                 float32: bool = False, host_paths: bool = True) -> str:
    """Exports a trained run as a TF Serving SavedModel version folder.

    Args:
        model_path: a run directory written by `acga_tf.training.artifacts.save_trained` (or its `model.keras`), or
            a run already loaded (`acga_tf.training.artifacts.TrainedModel`).
        output_dir: `<base>/<name>/<version>`, e.g. `saved_models/acga/1`; the version must be an integer and the
            folder must not exist yet. `<base>/models.config` (an example TF Serving model config for `<name>`)
            is written if there is none.
        warmup: write `assets.extra/tf_serving_warmup_requests` (needs tensorflow-serving-api; without it the
            warmup file is skipped with a warning).
        float32: export a run trained in a mixed precision computing in float32 throughout (`float32_twin`, the
            same weights): for CPUs without bfloat16 units, where a bfloat16 graph runs far slower. By default the
            export computes as the run trained (docs/serving.md#export).
        host_paths: keep the paths in `assets.extra/acga_provenance.json` (the run's folder, its shards,
            the commands that trained it); False cuts each to its last name, for a model shipped to others.

    Returns:
        The absolute path of the version folder.

    Raises:
        ValueError: the version folder is not an integer, already exists or cannot be written, the model is not an
            RGB model, or Keras runs another backend than TensorFlow.
        TypeError: `float32` or `host_paths` is not True or False (`float32="no"` exported in float32).
        FileNotFoundError: the run is incomplete (see `acga_tf.training.artifacts.load_trained`).
    """
    require_tensorflow_backend("the export")
    for name, value in (("float32", float32), ("host_paths", host_paths)):  # ("no" was taken as yes: a tester's)
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}={value!r}: True or False")
    output_dir, name_dir, version = _check_version_dir(output_dir)
    files.check_writable(output_dir, folder=True)  # before the model is loaded and traced
    trained = as_trained(model_path)
    precision = trained.model.precision
    if float32 and precision != "float32":
        trained = dataclasses.replace(trained, model=float32_twin(trained.model))
        logger.info("exporting %s in float32 (it trained in %s)", trained.directory, precision)
    elif "bfloat16" in precision:  # (said by `acga export`'s line; a warning here alarmed a newcomer on an AMX host)
        logger.info("the export computes in %s, as the run trained: on a CPU without bfloat16 units (AMX or "
                    "AVX512-BF16) that runs far slower than float32 (a training step was 10x slower on an AVX2-only "
                    "CPU); `acga export --float32` exports it in float32 (docs/serving.md#export)", precision)
    module = ServingModule(trained.model, trained.vectorizer())
    word = readable_word(trained.vocabulary.words[1:], trained.directory)
    records = None
    if warmup and word is None:  # (a warmup request that fails makes TF Serving refuse the version: an export
        # reviewer's hand-built ["don't", "Red"] wrote four such requests without a word)
        logger.warning("skipping the warmup requests: no word of the model's vocabulary is one a sentence is read "
                       "as, so the SavedModel refuses every sentence (and TF Serving would refuse a version whose "
                       "warmup fails)")
    elif warmup:
        try:
            records = warmup_requests(trained.config, word, os.path.basename(name_dir))
        except ImportError as e:
            logger.warning("skipping the warmup requests: %s", e)

    signatures = trace_signatures(module)
    # The root of the saved object graph: the signatures under their names (`loaded.serving_default(video=...,
    # query=...)`), the model's variables under the names keras.export.ExportArchive uses, and the vectorizer (its
    # word table and vectors are resources that the signatures capture).
    root = tf.__internal__.tracking.AutoTrackable()
    root.variables = list(trained.model.variables)
    root.trainable_variables = list(trained.model.trainable_variables)
    root.non_trainable_variables = list(trained.model.non_trainable_variables)
    root.vectorizer = module.vectorizer
    for name, function in signatures.items():
        setattr(root, name, function)

    # The model's folder locked while a version is written in it: a second export into it now is refused (exit 75),
    # nothing touched (else, of two exports of one version, the later removes the earlier's staging
    # folder, then fails, leaving its own); folders made for it and left empty are removed.
    with files.locked_folder(name_dir, option("--output", "output_dir")):
        _check_version_dir(output_dir)  # another export may have written it meanwhile
        # Written beside the version folder under a name that is not an integer (TF Serving ignores it), renamed.
        try:
            with files.atomic_path(output_dir, suffix=".partial", overwrite=False) as staging:
                with deferred_interrupts():  # Ctrl-C or SIGTERM once the folder is written: then removed, no version
                    tf.saved_model.save(root, staging, signatures=signatures)
                    if records is not None:
                        write_warmup(staging, records)
                    os.makedirs(os.path.join(staging, os.path.dirname(PROVENANCE_FILE)), exist_ok=True)
                    trained.vocabulary.save(os.path.join(staging, VOCAB_EXPORT_FILE))
                    files.write_json(os.path.join(staging, PROVENANCE_FILE), export_record(
                        trained, None if isinstance(model_path, TrainedModel) else os.fspath(model_path),
                        host_paths=host_paths))
        except (OSError, tf.errors.OpError) as e:  # a full disk: TensorFlow's error named a temporary file of its own
            reason = e.strerror if isinstance(e, OSError) and e.strerror else error_message(e)
            if output_dir + ".partial" in reason and "; " in reason:  # "<its temporary file>; No space left ..."
                reason = reason.rsplit("; ", 1)[-1]
            raise ValueError(f"{output_dir}: not exported ({reason}); nothing was written there") from None
    base = os.path.dirname(name_dir)
    config_path = os.path.join(base, MODELS_CONFIG)
    name = os.path.basename(name_dir)
    if not os.path.exists(config_path):
        files.write_text(config_path, models_config_text(name, f"/models/{name}"))
    logger.info("exported %s (T=%d, S=%d) to %s; signatures %s", trained.directory, trained.config.clip_length,
                trained.config.image_size, output_dir, ", ".join(signatures))
    return output_dir
