"""Predictors: one interface over every artifact that segments video (docs/serving.md#predict).

`load_predictor(model)` takes a run directory, a `.keras` file (its vocabulary beside it), an exported SavedModel
(a version folder or its `saved_models/NAME` parent: the highest integer version) or a TF Serving URL
(`http://host:8501/v1/models/NAME`, its REST predict API; `grpc://host:8500/NAME`, its gRPC one). Every predictor
gives the same masks for the same clip and sentences: the Keras ones run `ACGA.segment_queries` and the shared
post-processing (`acga_tf.ops.postprocess`, maximum over the frame's own pixels), the others the SavedModel's
`segment_queries` signature (`segment_encoded` over REST, `segment_encoded_png` where no probability is asked for),
whose graph does the same (docs/evaluation.md#protocol).
"""

from __future__ import annotations

import abc
import functools
import io
import logging
import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from acga_tf.apps.defaults import SERVER_TIMEOUT_S
from acga_tf.data.vocab import Vocabulary, check_sentences
from acga_tf.models.config import LIMITS
from acga_tf.ops import files
from acga_tf.ops.devices import require_tensorflow_backend
from acga_tf.ops.geometry import preprocess_clip
from acga_tf.ops.options import option
from acga_tf.ops.postprocess import PEAK_FRAME, logits_outputs
from acga_tf.ops.wording import counted
from acga_tf.serving.client import (
    DEFAULT_SIGNATURE,
    DESCRIBE_SIGNATURE,
    ENCODED_SIGNATURE,
    MAX_ANSWER_BYTES,
    MULTI_QUERY_SIGNATURE,
    PNG_SIGNATURE,
    GrpcClient,
    LocalServer,
    RestClient,
    encode_png,
    error_message,
    invalid_argument,
)
from acga_tf.serving.export import PROVENANCE_FILE, VOCAB_EXPORT_FILE
from acga_tf.training.artifacts import (
    SAVED_MODEL_FILE,
    VOCAB_FILE,
    TrainedModel,
    arrays_digest,
    as_model_path,
    folder_of_models_error,
    load_trained,
    saved_model_version,
    unfinished_saved_model,
)

logger = logging.getLogger(__name__)

URL_SCHEMES = ("http://", "https://")
GRPC_SCHEME = "grpc://"
WORDS_LISTED = 40  # a refused sentence's message lists the model's words where it knows no more (the demo's 16)


def own_function(function: Callable, **options) -> tf.types.experimental.PolymorphicFunction:
    """`tf.function(function, **options)`, counted apart from the others made from the same code. TensorFlow counts
    traces by the Python code (a lambda's line, a method's function): a fifth model loaded in one process
    (`acga evaluate RUN/checkpoints`' fifth checkpoint) would warn that "5 out of the last 5 calls
    ... triggered tf.function retracing", though each function is traced once. A `functools.partial` has no code
    of its own, so each is counted alone."""
    return tf.function(functools.partial(function), **options)


class Predictor(abc.ABC):
    """Segments clips for sentences; `load_predictor` builds one from any artifact (docs/serving.md#predict).

    May be shared by threads (a web server's handlers): each call's sentences and clips are its own (tests/
    test_predict.py runs one Keras predictor in two threads).

    Attributes:
        clip_length: T, frames per clip.
        sentence_length: L, words the model reads of a sentence.
        source: what it was loaded from (for messages).
    """

    clip_length: int
    sentence_length: int
    source: str

    @abc.abstractmethod
    def describe(self, queries: Sequence[str]) -> dict[str, np.ndarray]:
        """What the model reads of each sentence: `{"words", "known_words": int (Q,), "unknown_words": str (Q,)}`
        (`acga_tf.data.vocab.SentenceVectorizer.describe`)."""

    def words_hint(self) -> str:
        """Where the words the model knows can be read, for a refused sentence's message ("" where it cannot be
        said: a model behind a server, or exported before its words were written beside it)."""
        return ""

    def known_words(self) -> Sequence[str] | None:
        """The words the model knows (its vocabulary, without the padding token), for the words a sentence's message
        suggests in place of unknown ones; None where they cannot be read here (as `words_hint`)."""
        return None

    def weights(self) -> str | None:
        """The digest of the model's weights (`artifacts.arrays_digest`), as `acga evaluate --output-json` and an
        export's `acga_provenance.json` record it: what the masks JSON names the model by (docs/serving.md#masks-
        as-json). None where it cannot be known here (a model behind a server)."""
        return None

    @abc.abstractmethod
    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """One uint8 (H, W, 3) frame → what clips are made of (computed once per frame)."""

    def prepare_many(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """`prepare` of each frame (of one size), in order; a predictor may do them at once."""
        return [self.prepare(frame) for frame in frames]

    @abc.abstractmethod
    def segment(self, clips: np.ndarray, queries: Sequence[str], height: int, width: int,
                probabilities: bool = False) -> dict[str, np.ndarray]:
        """b clips of prepared frames (b, T, ...) and Q sentences → `{"mask": uint8 (b, Q, H, W), "empty": bool
        (b, Q), "score": float32 (b, Q) where the artifact gives it (docs/serving.md#scores), "probability": float32
        (b, Q, H, W) when asked for}` of each clip's centre frame."""


class KerasPredictor(Predictor):
    """A trained Keras model (`TrainedModel`): frames are letterboxed and scaled once each (docs/data.md#letterbox);
    each batch of clips goes through the I3D encoder once for all the sentences (`ACGA.segment_queries`).

    Raises:
        ValueError: the model is not RGB-only (prediction reads video frames).
    """

    def __init__(self, trained: TrainedModel):
        require_tensorflow_backend("prediction from a Keras run")
        config = trained.config
        if config.modality != "rgb":
            raise ValueError(f"{trained.directory}: the model's modality is {config.modality!r}: prediction from "
                             "video frames needs an RGB model (modality='rgb')")
        self.trained, self.source = trained, trained.directory
        self.clip_length, self.sentence_length = config.clip_length, config.sentence_length
        self.image_size = config.image_size
        self.vectorizer = trained.vectorizer()
        # One trace for every batch size and sentence count, as the SavedModel's signature: a trace per count kept
        # 60 to 140 MB each for the predictor's life (a web page's visitor could grow it without bound), and padding
        # batches to the largest seen made every later request as slow as it. No AutoGraph (no tensor-dependent
        # Python control flow here, and converting the model's methods failed in some test orders).
        self._segment = own_function(trained.model.segment_queries, autograph=False, input_signature=[
            tf.TensorSpec([None, config.clip_length, config.image_size, config.image_size, 3], tf.float32),
            tf.TensorSpec([None, config.sentence_length, config.word_dim], tf.float32)])
        # In a graph, as in the SavedModel, so a refused sentence gets the same message.
        self._checked_words = own_function(lambda s: self.vectorizer(check_sentences(self.vectorizer, s)),
                                           input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        self._words: dict[tuple[str, ...], tf.Tensor] = {}
        self._digest: str | None = None  # `weights()`, computed once asked for

    def words_hint(self) -> str:
        """The words themselves where they are few (the demo's 16), else the run's `vocab.txt`."""
        return _words_hint(self.trained.vocabulary, os.path.join(self.source, VOCAB_FILE))

    def known_words(self) -> Sequence[str]:
        return self.trained.vocabulary.words[1:]

    def weights(self) -> str:
        if self._digest is None:  # once (the paper preset's 31 million values: 0.15 s on 2 cores)
            self._digest = arrays_digest(self.trained.model.weights)
        return self._digest

    def describe(self, queries):
        return _described(self.vectorizer.describe(tf.constant(list(queries))))

    def _vectors(self, queries: tuple[str, ...]) -> tf.Tensor:
        """(Q, L, D) word vectors of sentences that pass the serving graph's checks (`check_sentences`): a sentence
        the SavedModel refuses is refused here too, with its message."""
        try:
            return self._checked_words(tf.constant(list(queries)))
        except tf.errors.InvalidArgumentError as e:
            raise invalid_argument(error_message(e)) from None

    def prepare(self, frame):
        return self.prepare_many([frame])[0]

    def prepare_many(self, frames):
        # Letterboxed together: one eager call for k frames took a sixth of k calls' time (k = 8), and the values
        # are the same (the resize is per image).
        return list(np.asarray(preprocess_clip(np.stack(frames), self.image_size), np.float32))  # k × (S, S, 3)

    def segment(self, clips, queries, height, width, probabilities=False):
        key = tuple(queries)
        words = self._words.get(key)
        if words is None:
            words = self._vectors(key)
            self._words = {key: words}  # the last sentences only (a new dict: another thread may read the old one)
        b, q = len(clips), len(key)
        logits = self._segment(tf.constant(np.asarray(clips, np.float32)), words)["logits"]  # (b·Q, S, S, 1)
        outputs = logits_outputs(logits, height, width, peak=PEAK_FRAME, probabilities=probabilities)
        return {k: np.asarray(v).reshape((b, q) + tuple(np.shape(v)[1:])) for k, v in outputs.items()}


# Bytes of a served answer per pixel of the frame and sentence, at most: as JSON, a mask value ("1, ") and a float32
# probability ("0.12345678901234567, "), 24, and 26.4 measured from tests' stand-in server; as a TensorProto, 1 + 4.
ANSWER_JSON_BYTES, ANSWER_PROTO_BYTES = 32, 8


class ServingPredictor(Predictor):
    """An exported SavedModel, loaded in this process (`LocalServer`) or behind a TF Serving REST URL
    (`RestClient`) or gRPC one (`GrpcClient`): one request per frame (the T frames of its clip and the Q sentences),
    whose graph does the letterbox, the model and the post-processing (docs/serving.md#signatures). In process and
    over gRPC (binary tensors), the raw frames go to `segment_queries`; in process, for one sentence, a batch of clips
    goes to `serving_default` in one call (`_segment_batch`). Over REST each frame is PNG-encoded once and
    its clips go to `segment_encoded`: 7 to 40 times fewer bytes than JSON numbers (noisy to clean frames;
    benchmarks/rest_payload.py). A model exported before that signature existed gets the numbers, with a warning.
    Where no probability is asked for (`acga predict`'s masks and overlay), REST requests go to `segment_encoded_png`
    where it is served: each mask comes back as a PNG, kilobytes, not JSON numbers (a 1280 x 720 answer was 23.6 MB
    with the probabilities).

    Raises:
        ValueError: the SavedModel has no `describe_queries` signature (exported before it existed), or the server's
            answer to it is not one of an acga-tf model: outputs missing or not of their dtype and shape, a
            clip_length or sentence_length that is not an integer from 1 to its bound in `LIMITS`.
    """

    def __init__(self, server, source: str):
        self.server, self.source = server, source
        self._weights_read, self._digest = False, None  # `weights()`, read once asked for
        self._words_read: Vocabulary | None | bool = False  # `_vocabulary()`, read once asked for
        try:
            info = server.run({"queries": np.array(["a"], object)}, DESCRIBE_SIGNATURE)
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"{source}: cannot use this SavedModel for prediction ({e.message}); export it again "
                             "with `acga export` (it needs the describe_queries signature)") from None
        _check_answer(info, {"clip_length": None, "sentence_length": None, **_describe_outputs(1)},
                      DESCRIBE_SIGNATURE, source)
        given = {k: np.asarray(info[k]) for k in ("clip_length", "sentence_length")}
        if any(v.shape != () or v.dtype.kind not in "iu" for v in given.values()):
            raise ValueError(f"{source}: the answer to {DESCRIBE_SIGNATURE} gives clip_length "
                             f"{given['clip_length'].tolist()!r} and sentence_length "
                             f"{given['sentence_length'].tolist()!r}, not integers: not an acga-tf SavedModel")
        for name, value in given.items():  # the server's numbers size what is allocated here: bounded as a config's
            bound = LIMITS[name][0]
            if not 1 <= value <= bound:
                raise ValueError(f"{source}: the answer to {DESCRIBE_SIGNATURE} gives {name} {int(value)}, expected "
                                 f"1 to {bound} (the bound of an acga-tf model's config): not an acga-tf SavedModel")
        self.clip_length, self.sentence_length = int(given["clip_length"]), int(given["sentence_length"])
        names = self._rest_signatures() if isinstance(server, RestClient) else []
        self.encoded = ENCODED_SIGNATURE in names
        self.png = self.encoded and PNG_SIGNATURE in names  # (a model exported before it: segment_encoded's numbers)

    def _rest_signatures(self) -> list[str]:
        try:
            names = self.server.signature_names()
        except OSError as e:
            names, reason = [], str(e)
        else:
            reason = f"its signatures are {', '.join(names)}"
        if ENCODED_SIGNATURE not in names:
            logger.warning("%s: no %s signature (%s): each frame is sent as JSON numbers, 7 to 40 times more bytes "
                           "than PNG; export the model again with `acga export` to get it", self.source,
                           ENCODED_SIGNATURE, reason)
        return names

    def words_hint(self) -> str:
        """As `KerasPredictor.words_hint`, from the export's `assets.extra/vocab.txt` where the SavedModel is a
        folder here that has one (exported since 2026-12-05, evening)."""
        vocabulary = self._vocabulary()
        return _words_hint(vocabulary, os.path.join(self.source, VOCAB_EXPORT_FILE)) if vocabulary else ""

    def known_words(self) -> Sequence[str] | None:
        vocabulary = self._vocabulary()
        return vocabulary.words[1:] if vocabulary else None

    def _vocabulary(self) -> Vocabulary | None:
        """The export's `assets.extra/vocab.txt` (read once), or None where there is none here."""
        if self._words_read is False:
            path = os.path.join(self.source, VOCAB_EXPORT_FILE)
            try:
                self._words_read = Vocabulary.load(path) if os.path.isfile(path) else None
            except (OSError, ValueError):  # a damaged file: the refusal stands without the hint
                self._words_read = None
        return self._words_read

    def weights(self) -> str | None:
        """From the export's `assets.extra/acga_provenance.json` where the SavedModel is a folder here (read once:
        a service asks at every request's JSON)."""
        if not self._weights_read:
            path, self._weights_read = os.path.join(self.source, PROVENANCE_FILE), True
            try:
                digest = files.read_json(path).get("weights") if os.path.isfile(path) else None
            except (OSError, ValueError, AttributeError):  # a damaged record: the masks are the same without it
                digest = None
            self._digest = digest if isinstance(digest, str) else None
        return self._digest

    def describe(self, queries):
        """Raises ValueError where the server's answer is not of Q sentences (`_check_answer`)."""
        queries = list(queries)
        answer = self.server.run({"queries": np.array(queries, object)}, DESCRIBE_SIGNATURE)
        return _described(_check_answer(answer, _describe_outputs(len(queries)), DESCRIBE_SIGNATURE, self.source))

    def prepare(self, frame):
        # The graph letterboxes the raw frames; over REST each frame is encoded once, for all the clips it is in.
        return np.array(encode_png(frame), object) if self.encoded else frame

    def segment(self, clips, queries, height, width, probabilities=False):
        """Raises ValueError where a server's answer is not of Q sentences and (H, W) frames (`_check_answer`)."""
        queries = np.array(list(queries), object)
        q, height, width = len(queries), int(height), int(width)
        if q == 1 and isinstance(self.server, LocalServer) and len(clips) > 1:  # in process: the batch in one call
            return self._segment_batch(clips, queries[0], height, width, probabilities)  # (not over a network:
            # 4 clips of the paper's T at 4K are 1.6 GB, past gRPC's bounds, where one clip a request passed)
        png = self.png and not probabilities
        signature = PNG_SIGNATURE if png else ENCODED_SIGNATURE if self.encoded else MULTI_QUERY_SIGNATURE
        each = self._sentences_per_request(height, width, png)
        answers = []
        for clip in clips:
            parts = []
            for group in (queries[k:k + each] for k in range(0, q, each)):
                answer = self.server.run({"frames" if self.encoded else "video": clip, "queries": group}, signature)
                expected = _segment_outputs(len(group), height, width, probabilities, "score" in answer, png)
                answer = _check_answer(answer, expected, signature, self.source)
                if png:  # the masks decoded, then checked as the numbers' would be
                    mask = {"mask": (INTEGERS, (len(group), height, width), (0, 1))}
                    answer.update(_check_answer({"mask": self._png_masks(answer["mask_png_bytes"], signature, height,
                                                                         width)}, mask, signature, self.source))
                parts.append(answer)
            answers.append(parts[0] if len(parts) == 1 else {  # (one request, most often: no copy)
                name: np.concatenate([np.asarray(part[name]) for part in parts])
                for name in ("mask", "empty", "probability", "score") if all(name in p for p in parts)})
        outputs = {"mask": np.stack([np.asarray(a["mask"], np.uint8) for a in answers]),
                   "empty": np.stack([np.asarray(a["empty"], bool) for a in answers])}
        if probabilities:
            outputs["probability"] = np.stack([np.asarray(a["probability"], np.float32) for a in answers])
        if answers and all("score" in a for a in answers):
            outputs["score"] = np.stack([np.asarray(a["score"], np.float32) for a in answers])
        return outputs

    def _sentences_per_request(self, height: int, width: int, png: bool) -> int:
        """The most sentences one request may carry so that its answer stays within what the client reads
        (`MAX_ANSWER_BYTES` of REST's JSON, gRPC's message bound): a 4K clip's probabilities are about 200 MB of JSON
        a sentence, so that 11 sentences a request were refused on every frame (a serving reviewer's)."""
        if png or isinstance(self.server, LocalServer):  # PNG masks: kilobytes; in process: no bound
            return 1 << 30
        bound, cost = ((MAX_ANSWER_BYTES, ANSWER_JSON_BYTES) if isinstance(self.server, RestClient) else
                       (GrpcClient.MESSAGE_BYTES, ANSWER_PROTO_BYTES))
        return max(1, bound // (height * width * cost))

    def _segment_batch(self, clips, query: str, height: int, width: int, probabilities: bool
                       ) -> dict[str, np.ndarray]:
        """b clips and one sentence in one `serving_default` call, in process (`segment_queries` takes one clip):
        the demo's export on 240 frames of 640 x 360 (2 cores), 79 frames a second one clip a request, 119 at 4, the
        same masks. The outputs as `segment`'s, (b, 1, ...)."""
        b = len(clips)
        answer = self.server.run({"video": np.stack(clips), "query": np.array([query] * b, object)},
                                 DEFAULT_SIGNATURE)
        expected = _segment_outputs(b, height, width, probabilities, "score" in answer)
        answer = _check_answer(answer, expected, DEFAULT_SIGNATURE, self.source)
        kinds = {"mask": np.uint8, "empty": bool, "probability": np.float32, "score": np.float32}
        return {name: np.asarray(answer[name], kinds[name])[:, None] for name in expected}

    def _png_masks(self, encoded, signature: str, height: int, width: int) -> np.ndarray:
        """`segment_encoded_png`'s masks → uint8 (Q, H, W) of 0 and 1. Each must be a greyscale PNG of 0 and 255 of
        the frames' size, which its header declares before anything is decoded (else a hostile server's 140 kB PNG of
        12000 x 12000 pixels is decoded, 600 MB, before its size is refused).

        Raises:
            ValueError: an answer that is not such a PNG (the message names the server).
        """
        masks = []
        for data in np.asarray(encoded, object).reshape(-1):
            try:
                with warnings.catch_warnings():  # Pillow's warning of a large image: refused below, undecoded
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    image = Image.open(io.BytesIO(data))
                declared = (image.format, image.mode, image.size)
                if declared != ("PNG", "L", (width, height)):
                    raise ValueError(f"a {declared[0]} image, mode {declared[1]}, {declared[2][0]} x "
                                     f"{declared[2][1]} pixels")
                mask = np.asarray(image)
                if not set(np.unique(mask)) <= {0, 255}:
                    raise ValueError(f"values from {mask.min()} to {mask.max()}")
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, TypeError):
                raise ValueError(self._png_refusal(signature, height, width, "not an image Pillow reads")) from None
            except ValueError as e:
                raise ValueError(self._png_refusal(signature, height, width, str(e))) from None
            masks.append(mask // 255)
        return np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)

    def _png_refusal(self, signature: str, height: int, width: int, found: str) -> str:
        return (f"{self.source}: the answer to {signature} gives a mask_png_bytes that is {found}, expected a "
                f"greyscale PNG of 0 and 255, {width} x {height} pixels: not an acga-tf SavedModel served by TF "
                "Serving; export the model with `acga export`")


# Kinds of outputs (NumPy's `dtype.kind`s) and their names in messages: a REST server's JSON numbers are int64 or
# float64, gRPC and in-process answers keep the signature's dtypes (uint8, int32, float32, bool, bytes).
INTEGERS, BOOLEANS, NUMBERS, STRINGS = ("iu", "integers"), ("b", "booleans"), ("iuf", "numbers"), ("OSU", "strings")


def _segment_outputs(n: int, height: int, width: int, probabilities: bool, scored: bool, png: bool = False) -> dict:
    """What `_check_answer` expects of a segmenting signature's answer of `n` masks of (H, W) frames: the masks (or
    their PNGs), `empty`, `probability` where asked for, `score` where the answer has one (exported since
    2026-12-06)."""
    expected = {"mask_png_bytes": (STRINGS, (n,), None)} if png else {"mask": (INTEGERS, (n, height, width), (0, 1))}
    expected["empty"] = (BOOLEANS, (n,), None)
    if probabilities:
        expected["probability"] = (NUMBERS, (n, height, width), (0, 1))
    if scored:
        expected["score"] = (NUMBERS, (n,), (0, 1))
    return expected


def _describe_outputs(q: int) -> dict:
    """What `_check_answer` expects of a `describe_queries` answer for `q` sentences (the outputs `_described`
    reads)."""
    return {"words": (INTEGERS, (q,), None), "known_words": (INTEGERS, (q,), None),
            "unknown_words": (STRINGS, (q,), None)}


def _check_answer(answer, expected: dict, signature: str, source: str) -> dict[str, np.ndarray]:
    """The outputs of a server's answer to `signature` as arrays, checked against `expected`: name → None (only
    present) or (kinds, shape, value range or None), as the request implies (Q sentences, (H, W) frames). A server
    that is not TF Serving over an acga-tf SavedModel is named, with what it gave (not a bare KeyError, or an
    IndexError deep in the caller).

    Raises:
        ValueError: an output is missing, or not of its kind, shape or range (the message names the server, the
            output, what was expected and what was received).
    """
    missing = [k for k in expected if k not in answer]
    hint = "not an acga-tf SavedModel served by TF Serving; export the model with `acga export`"
    if missing:
        raise ValueError(f"{source}: the answer to {signature} has no {', '.join(missing)} (it has "
                         f"{', '.join(sorted(answer)) or 'nothing'}): {hint}")
    arrays = {}
    for name, spec in expected.items():
        value = np.asarray(answer[name])
        if spec is not None:
            (kinds, kind_name), shape, bounds = spec
            if value.dtype.kind not in kinds or value.shape != shape:
                raise ValueError(f"{source}: the answer to {signature} gives {name} of dtype {value.dtype} and shape "
                                 f"{value.shape}, expected {kind_name} of shape {shape}: {hint}")
            if bounds and value.size and not (bounds[0] <= value.min() and value.max() <= bounds[1]):
                raise ValueError(f"{source}: the answer to {signature} gives {name} values from {value.min()} to "
                                 f"{value.max()}, expected {bounds[0]} to {bounds[1]}: {hint}")
        arrays[name] = value
    return arrays


def _described(outputs) -> dict[str, np.ndarray]:
    """`describe` outputs (tensors, or arrays from a server) → int arrays and a str array of unknown words."""
    unknown = [w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in np.asarray(outputs["unknown_words"])]
    return {"words": np.asarray(outputs["words"]).astype(int), "known_words": np.asarray(outputs["known_words"]
                                                                                         ).astype(int),
            "unknown_words": np.array(unknown, object)}


def _artifact_state(path: str) -> tuple:
    """What changes when the artifact at `path` is written again: its real path, and the size and modification time
    of it and (a folder) of each entry in it."""
    path = os.path.realpath(path)
    entries = [os.stat(path)]
    if os.path.isdir(path):
        entries += [entry.stat() for entry in sorted(os.scandir(path), key=lambda e: e.name)]
    return (path,) + tuple((e.st_size, e.st_mtime_ns) for e in entries)


# The last artifact loaded from a path, by `_artifact_state`, or the last `TrainedModel` given, by its id (its
# predictor holds it, so the id is not reused while kept): a loop of `predict(trained, ...)` traces the model once (a
# new predictor a call traced it again each time, and TensorFlow warned of the retracing from the sixth call)
_LAST_LOADED: dict[tuple, Predictor] = {}
_LOADING = threading.Lock()


def is_server_url(model) -> bool:
    """Whether `model` names a TF Serving server (REST `http(s)://` or `grpc://`) rather than files."""
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).startswith(URL_SCHEMES + (GRPC_SCHEME,))


def load_predictor(model, *, timeout: float = SERVER_TIMEOUT_S) -> Predictor:
    """A `Predictor` from any artifact (docs/serving.md#predict).

    The last one loaded from a path is kept and given again while the files there are unchanged, so a loop that
    calls `predict(path, ...)` on video after video loads the model once (loading it again each time would not only
    be slow: TensorFlow keeps about 100 MB of every SavedModel it ever loaded). Likewise the predictor of the last
    `TrainedModel` given, so that a loop of `predict(trained, ...)` traces its model once.

    Args:
        model: a `Predictor`, a `TrainedModel` (its `KerasPredictor`), a TF Serving URL
            (`http://host:8501/v1/models/NAME`, REST; `grpc://host:8500/NAME`, gRPC), a SavedModel folder or its
            parent holding integer versions (the highest is used), a run directory, or a `.keras` file (its
            `vocab.txt` and `embeddings.npy` beside it or in the folder above, as `acga train` writes them).
        timeout: seconds a TF Serving server has for each whole answer (a URL only).

    Raises:
        FileNotFoundError: the path does not exist, or a run / `.keras` file lacks its vocabulary files.
        ValueError: a malformed URL, a file that is not an ACGA model, a model that is not RGB.
        TypeError: `model` is none of these (`as_model_path`).
    """
    if isinstance(model, Predictor):
        return model
    if isinstance(model, TrainedModel):
        return _last_loaded(("trained", id(model)), lambda: KerasPredictor(model))
    path = as_model_path(model, "a trained run's folder or its model.keras, an exported SavedModel folder, a TF "
                                "Serving URL, or a TrainedModel (acga_tf.training.artifacts.load_trained)")
    if is_server_url(path) and not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"{option('--timeout ', 'timeout=')}{timeout}: must be a positive number of seconds")
    if path.startswith(URL_SCHEMES):
        return ServingPredictor(RestClient(path, timeout), path)
    if path.startswith(GRPC_SCHEME):
        return ServingPredictor(GrpcClient(path, timeout), path)
    if not os.path.exists(path):
        where = f" {note}" if (note := files.current_folder_note(path)) else ""
        raise FileNotFoundError(f"{path}: not found{where} ({option('--model', 'model')} takes a run directory, a "
                                ".keras file, an exported SavedModel folder or a TF Serving URL "
                                "http://HOST:8501/v1/models/NAME or grpc://HOST:8500/NAME)")
    files.check_readable(path)  # before a folder is taken for an incomplete run or export
    version = saved_model_version(path) if os.path.isdir(path) else None
    unfinished = unfinished_saved_model(path) if os.path.isdir(path) else None
    if unfinished is not None and version is None:  # (it was "model.keras: missing (a trained run holds ...)")
        raise FileNotFoundError(f"{unfinished}: a SavedModel without its {SAVED_MODEL_FILE} (an export or a copy "
                                "that did not finish?): export it again (acga export), or copy it again whole")
    if version is not None:
        def load() -> Predictor:
            if unfinished is not None:  # (an earlier version was used without a word); once a load
                logger.warning("%s: a SavedModel version without its %s (an export or a copy that did not finish? "
                               "TF Serving would fail to load it): using %s", unfinished, SAVED_MODEL_FILE, version)
            return ServingPredictor(LocalServer(version), version)

        if os.path.abspath(version) != os.path.abspath(path):  # a model's folder: which version (`acga -v`)
            logger.info("%s: using its version %s, the highest", path, os.path.basename(version))
        return _last_loaded(_artifact_state(version), load)
    if (error := folder_of_models_error(path)) is not None:  # runs and SavedModels: predict takes both
        raise error
    require_tensorflow_backend("prediction from a Keras run")  # before loading it
    return _last_loaded(_artifact_state(path), lambda: KerasPredictor(load_trained(path)))


def _words_hint(vocabulary: Vocabulary, path: str) -> str:
    """A model's words for a refused sentence's message: listed where they are few (`WORDS_LISTED`), else the file
    `path` that lists them."""
    words = vocabulary.words[1:]  # (the padding token first)
    if len(words) <= WORDS_LISTED:
        return f"the model knows {counted(len(words), 'word')}: {' '.join(words)}"
    return f"the model's {counted(len(words), 'word')} {'is' if len(words) == 1 else 'are'} listed in {path}"


def _last_loaded(key: tuple, load: Callable[[], Predictor]) -> Predictor:
    """The predictor kept under `key`, or `load()`'s, kept in place of the one before (one at a time: a model no
    longer asked for is not kept)."""
    with _LOADING:
        if key not in _LAST_LOADED:
            _LAST_LOADED.clear()
            _LAST_LOADED[key] = load()
        return _LAST_LOADED[key]


__all__ = ["Predictor", "KerasPredictor", "ServingPredictor", "load_predictor", "saved_model_version"]
