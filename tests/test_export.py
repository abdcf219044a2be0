"""Export (docs/architecture.md): a TF Serving SavedModel answering gRPC and REST requests in a fresh process
(docs/data.md#pipeline, docs/evaluation.md#protocol).

One tiny run is exported once (through `acga export`); `tests/serving_client.py` then loads it with
`tf.saved_model.load` in a new Python process and answers every request below, good and bad, in order. The
answers are compared here with the Keras model run on the same preprocessed input.
"""

import base64
import collections
import functools
import importlib.util
import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from own_layers import GRUTextEncoder
from PIL import Image

from acga_tf import ACGAConfig
from acga_tf.cli import main
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.acga import ACGA
from acga_tf.ops import provenance
from acga_tf.ops.geometry import letterbox_geometry, preprocess_clip, unletterbox
from acga_tf.serving import client as serving
from acga_tf.serving.export import WARMUP_FILE, ServingModule, export_model, warmup_requests
from acga_tf.training import artifacts

# gRPC protos and warmup records need the optional tensorflow-serving-api (`pip install "acga-tf[serving]"`); without
# it the gRPC cases are skipped, bad requests are fed to the signatures directly and the export skips the warmup.
HAS_SERVING_API = importlib.util.find_spec("tensorflow_serving") is not None
needs_serving_api = pytest.mark.skipif(not HAS_SERVING_API, reason="needs tensorflow-serving-api (acga-tf[serving])")

CLIENT = pathlib.Path(__file__).with_name("serving_client.py")
SENTENCES = ["a man in a red shirt is running", "the dog on the left is jumping", "a woman is rolling on the floor",
             "a bird flying"]
SIZES = [(48, 80), (80, 48), (64, 64)]  # (H, W): landscape, portrait, square
# The untrained tiny model's logits barely vary (σ in 0.3..0.55, so the evaluated mask would be all
# ones); sharpening the fusion conv makes the relative threshold select a real region, so the mask comparison means
# something.
LOGIT_SCALE = 6.0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = ACGAConfig.preset("tiny")
    keras.utils.set_random_seed(0)
    model = ACGA(config)
    fusion = model.stage("decoder").conv_fusion
    fusion.set_weights([w * LOGIT_SCALE for w in fusion.get_weights()])
    vocab = Vocabulary.build(SENTENCES)
    matrix, _ = vocab.embedding_matrix(dim=config.word_dim, seed=0)
    directory = tmp_path_factory.mktemp("run")
    artifacts.save_trained(str(directory), model, vocab, matrix)
    return directory


@pytest.fixture(scope="module")
def export_traces():
    """{ServingModule method: times traced} during the `exported` fixture's export."""
    return collections.Counter()


@pytest.fixture(scope="module")
def exported(run_dir, export_traces, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("segment", "segment_queries", "segment_encoded", "segment_encoded_png", "describe_queries"):
            patch.setattr(ServingModule, name, _counted(getattr(ServingModule, name), export_traces))
        assert main(["export", "--model", str(run_dir), "--output", str(base / "acga" / "1"), "--no-host-paths"]) == 0
    return base / "acga" / "1"


def _counted(method, counter):
    def traced(self, *args):
        counter[method.__name__] += 1
        return method(self, *args)

    return traced


@pytest.fixture(scope="module")
def trained(run_dir):
    return artifacts.load_trained(str(run_dir))


def _videos(config, seed=0):
    rng = np.random.default_rng(seed)
    return {f"{h}x{w}": rng.integers(0, 256, (2, config.clip_length, h, w, 3), dtype=np.uint8) for h, w in SIZES}


def _reference(trained, video, queries):
    """The Keras model on the same preprocessed input: σ(logits) (B, S, S), its outputs at H × W, thresholded at
    0.5 × the maximum over the frame's own pixels of the letterbox (docs/serving.md#signatures), and that maximum
    (B,), the score, by hand."""
    inputs = {"video": preprocess_clip(tf.constant(video), trained.config.image_size),
              "words": trained.vectorizer()(tf.constant(queries))}
    prob = tf.sigmoid(trained.model(inputs, training=False)["logits"])  # (B, S, S, 1)
    h, w = video.shape[-3:-1]
    probability = unletterbox(prob, h, w, method="bilinear")[..., 0].numpy()
    nh, nw, top, left = (int(v) for v in letterbox_geometry(h, w, trained.config.image_size))
    p = prob.numpy()
    peak = p[:, top:top + nh, left:left + nw].max(axis=(1, 2, 3), keepdims=True)
    binary = (p >= 0.5 * peak).astype(np.uint8)
    mask = unletterbox(binary, h, w, method="nearest")[..., 0].numpy()
    return p[..., 0], probability, mask, peak.reshape(-1)


@pytest.fixture(scope="module")
def fresh(exported, trained, tmp_path_factory):
    """Writes the requests, answers them in a fresh process, returns (results, work_dir, requests)."""
    work = tmp_path_factory.mktemp("requests")
    config = trained.config
    videos = _videos(config)
    queries = np.array(SENTENCES[:2], object)
    good = {"video": videos["48x80"], "query": queries}
    requests, manifest = {}, []

    def add(id_, kind, inputs, signature="serving_default", body=None):
        requests[id_] = (signature, inputs)
        path = work / (id_ + {"grpc": ".pb", "rest": ".json", "run": ".npz"}[kind])
        if kind == "grpc":
            path.write_bytes(serving.predict_request(inputs, signature).SerializeToString())
        elif kind == "run":
            np.savez(path, **{k: np.asarray(v) for k, v in inputs.items()})
        else:
            path.write_text(json.dumps(body if body is not None else serving.rest_body(inputs, signature)))
        manifest.append({"id": id_, "kind": kind, "path": str(path), "signature": signature})

    proto = "grpc" if HAS_SERVING_API else "run"
    for size, video in videos.items():
        if HAS_SERVING_API:
            add(f"grpc_{size}", "grpc", {"video": video, "query": queries})
        add(f"rest_{size}", "rest", {"video": video, "query": queries})
    add("rest_instances", "rest", good, body={"instances": [
        {"video": good["video"][i].tolist(), "query": str(good["query"][i])} for i in range(2)]})
    add("multi_48x80", proto, {"video": good["video"][0], "queries": np.array(SENTENCES, object)},
        "segment_queries")
    add("describe", "rest", {"queries": np.array([SENTENCES[0], "a zebra and a man", " ".join(["zebra"] * 30)],
                                                 object)}, "describe_queries")
    add("rest_multi_80x48", "rest", {"video": videos["80x48"][1], "queries": np.array(SENTENCES[1:], object)},
        "segment_queries")
    pngs = np.array([serving.encode_png(f) for f in videos["80x48"][1]], object)  # the same clip, PNG-encoded
    add("rest_encoded_80x48", "rest", {"frames": pngs, "queries": np.array(SENTENCES[1:], object)},
        "segment_encoded")
    add("rest_png_80x48", "rest", {"frames": pngs, "queries": np.array(SENTENCES[1:], object)},
        "segment_encoded_png")
    jpegs = np.array([tf.io.encode_jpeg(f, quality=95).numpy() for f in videos["80x48"][1]], object)
    add("encoded_jpeg_80x48", proto, {"frames": jpegs, "queries": np.array(SENTENCES[1:], object)}, "segment_encoded")
    bomb = bytearray(pngs[0])  # a real PNG whose header now declares 30000 x 30000 pixels (2.7 GB decoded)
    bomb[16:24] = (30000).to_bytes(4, "big") * 2
    empty = bytearray(pngs[0])  # a header of 0 x 0 (a security tester's: it was called "more than 8K")
    empty[16:24] = bytes(8)
    unsigned = bytearray(pngs[0])  # a header past 2^31 (IHDR's fields are unsigned; read as int32 it is negative)
    unsigned[16:24] = b"\xff" * 8
    bad = {
        "bad_rank4": (proto, {"video": good["video"][0], "query": queries[:1]}, "serving_default"),
        "bad_float": (proto, {"video": good["video"].astype(np.float32), "query": queries}, "serving_default"),
        "bad_empty_query": (proto, {"video": good["video"], "query": np.array(["a man", ""], object)},
                            "serving_default"),
        "bad_punctuation_query": ("rest", {"video": good["video"][:1], "query": np.array(["?!"], object)},
                                  "serving_default"),
        "bad_unknown_words": (proto, {"video": good["video"][0], "queries": np.array(["a man", "zebra xylophone"],
                                                                                      object)}, "segment_queries"),
        "bad_long_query": (proto, {"video": good["video"], "query": np.array(["a man", "man " * 20000], object)},
                           "serving_default"),
        "bad_long_describe": ("rest", {"queries": np.array(["man " * 20000], object)}, "describe_queries"),
        "bad_zero_frames": (proto, {"video": good["video"][:, :0], "query": queries}, "serving_default"),
        "bad_wrong_t": (proto, {"video": good["video"][:, :4], "query": queries}, "serving_default"),
        "bad_batch_mismatch": (proto, {"video": good["video"], "query": queries[:1]}, "serving_default"),
        "bad_rest_float": ("rest", {"video": good["video"] / 255.0, "query": queries}, "serving_default"),
        "bad_no_queries": (proto, {"video": good["video"][0], "queries": np.array([], "S")}, "segment_queries"),
        "bad_multi_rank5": (proto, {"video": good["video"], "queries": queries}, "segment_queries"),
        "bad_encoded_rank2": ("rest", {"frames": pngs[None], "queries": queries}, "segment_encoded"),
        "bad_encoded_wrong_t": ("rest", {"frames": pngs[:4], "queries": queries}, "segment_encoded"),
        "bad_encoded_not_an_image": ("rest", {"frames": np.array([b"not an image"] + list(pngs[1:]), object),
                                              "queries": queries}, "segment_encoded"),
        "bad_encoded_gif": ("rest", {"frames": np.array(list(pngs[:-1]) + [tf.io.encode_png(good["video"][0, 0]).numpy(
            ).replace(b"\x89PNG", b"GIF8", 1)], object), "queries": queries}, "segment_encoded"),
        # A WebP's first bytes are not UTF-8: the message must still be text.
        "bad_encoded_webp": ("rest", {"frames": np.array(list(pngs[:-1]) + [b"RIFF\xff\x8a\x00\x00WEBPVP8 "], object),
                                      "queries": queries}, "segment_encoded"),
        "bad_encoded_bomb": ("rest", {"frames": np.array(list(pngs[:-1]) + [bytes(bomb)], object),
                                      "queries": queries}, "segment_encoded"),
        "bad_encoded_zero_size": ("rest", {"frames": np.array(list(pngs[:-1]) + [bytes(empty)], object),
                                           "queries": queries}, "segment_encoded"),
        "bad_encoded_unsigned": ("rest", {"frames": np.array(list(pngs[:-1]) + [bytes(unsigned)], object),
                                          "queries": queries}, "segment_encoded"),
        "bad_encoded_sizes": ("rest", {"frames": np.array(list(pngs[:-1]) + [serving.encode_png(
            good["video"][0, 0])], object), "queries": queries}, "segment_encoded"),
        # A serving reviewer's: a PNG cut within its header was "not PNG or JPEG"; strings nested 33 deep, a
        # 130-byte body, ended the process (TensorFlow's conversion crashed); ragged strings, a missing input and an
        # empty video escaped as other errors or were called decimals
        "bad_encoded_cut_png": ("rest", {"frames": np.array(list(pngs[:-1]) + [pngs[0][:20]], object),
                                         "queries": queries}, "segment_encoded"),
        # a reviewer's: a frame cut short after its header failed with TensorFlow's "Invalid PNG data, size N"
        "bad_encoded_cut_frames": ("rest", {"frames": np.array([p[:len(p) // 2] if k in (2, 5) else p for k, p in
                                                                enumerate(pngs)], object), "queries": queries},
                                   "segment_encoded"),
        # a tester's: damage inside a whole PNG's pixels (IEND intact) is the decoder's, named by the frame's length
        "bad_encoded_damaged_inside": ("rest", {"frames": np.array([_damaged_inside(p) if k == 3 else p for k, p in
                                                                    enumerate(pngs)], object), "queries": queries},
                                       "segment_encoded"),
        "bad_encoded_png_cut_jpeg": ("rest", {"frames": np.array(list(pngs[:-1]) + [tf.io.encode_jpeg(
            videos["80x48"][1][-1]).numpy()[:-40]], object), "queries": queries}, "segment_encoded_png"),
        "bad_rest_deep_strings": ("rest", {}, "describe_queries", {"signature_name": "describe_queries", "inputs": {
            "queries": functools.reduce(lambda inner, _: [inner], range(40), "a man")}}),
        "bad_rest_ragged_strings": ("rest", {}, "describe_queries", {"signature_name": "describe_queries",
                                                                     "inputs": {"queries": [["a man"], ["a", "b"]]}}),
        "bad_rest_empty_video": ("rest", {}, "serving_default", {"inputs": {"video": [], "query": ["a man"]}}),
        "bad_missing_input": (proto, {"video": good["video"]}, "serving_default"),
    }
    for id_, (kind, inputs, signature, *body) in bad.items():
        add(id_, kind, inputs, signature, body=body[0] if body else None)
        add(f"after_{id_}", proto, good)  # the process must answer a good request after each bad one
    (work / "manifest.json").write_text(json.dumps(manifest))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(CLIENT), str(exported), str(work)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((work / "results.json").read_text())
    return results, work, requests


def _damaged_inside(png: bytes) -> bytes:
    """`png` with a byte of its first IDAT chunk's compressed pixels changed: whole to its end, damaged inside."""
    damaged = bytearray(png)
    damaged[png.index(b"IDAT") + 12] ^= 0xFF
    return bytes(damaged)


def _answer(work, id_):
    grpc, arrays = work / f"{id_}.response.pb", work / f"{id_}.response.npz"
    if grpc.exists():
        from tensorflow_serving.apis import predict_pb2

        return serving.response_outputs(predict_pb2.PredictResponse.FromString(grpc.read_bytes()))
    if arrays.exists():
        with np.load(arrays) as data:
            return {k: data[k] for k in data.files}
    body = json.loads((work / f"{id_}.response.json").read_text())
    if "predictions" in body:
        return {k: np.array([p[k] for p in body["predictions"]]) for k in body["predictions"][0]}
    return {k: np.array(v) for k, v in body["outputs"].items()}


def _assert_matches(answer, reference, h, w):
    _, probability, mask, score = reference
    assert answer["probability"].shape == answer["mask"].shape == (len(mask), h, w)
    np.testing.assert_allclose(answer["score"], score, atol=2e-6)  # the maximum inside the frame, not the padding's
    np.testing.assert_array_equal(np.asarray(answer["empty"], bool), ~answer["mask"].any(axis=(1, 2)))
    np.testing.assert_allclose(answer["probability"], probability, atol=2e-5)
    assert set(np.unique(answer["mask"])) <= {0, 1}
    # Pixels where σ sits on the threshold may differ by float rounding; none do in practice.
    assert np.mean(answer["mask"] != mask) <= 1e-3, np.mean(answer["mask"] != mask)


@pytest.mark.parametrize("kind", [pytest.param("grpc", marks=needs_serving_api), "rest"])
@pytest.mark.parametrize("size", [f"{h}x{w}" for h, w in SIZES])
def test_fresh_process_answers_match_the_keras_model(fresh, trained, kind, size):
    results, work, requests = fresh
    assert results["outcomes"][f"{kind}_{size}"] == {"ok": True}
    _, inputs = requests[f"{kind}_{size}"]
    h, w = inputs["video"].shape[2:4]
    answer = _answer(work, f"{kind}_{size}")
    if kind == "grpc":
        assert answer["mask"].dtype == np.uint8 and answer["probability"].dtype == np.float32
    reference = _reference(trained, inputs["video"], inputs["query"])
    _assert_matches(answer, reference, h, w)
    assert 0.002 < answer["mask"].mean() < 0.95, "the relative threshold should select a region, not all or nothing"


def test_row_format_rest_request(fresh, trained):
    results, work, requests = fresh
    assert results["outcomes"]["rest_instances"] == {"ok": True}
    body = json.loads((work / "rest_instances.response.json").read_text())
    assert len(body["predictions"]) == 2 and set(body["predictions"][0]) == {"mask", "empty", "score", "probability"}
    _, inputs = requests["rest_instances"]
    _assert_matches(_answer(work, "rest_instances"), _reference(trained, inputs["video"], inputs["query"]), 48, 80)


@pytest.mark.parametrize("id_", ["multi_48x80", "rest_multi_80x48", "rest_encoded_80x48"])
def test_multi_query_signature_matches_single_query(fresh, trained, id_):
    results, work, requests = fresh
    assert results["outcomes"][id_] == {"ok": True}
    signature, inputs = requests[id_]
    if signature == "segment_encoded":  # PNG frames: lossless, so the same clip as rest_multi_80x48's
        assert json.loads((work / f"{id_}.json").read_text())["inputs"]["frames"][0].keys() == {"b64"}
        inputs = {"video": requests["rest_multi_80x48"][1]["video"], "queries": inputs["queries"]}
        np.testing.assert_array_equal(_answer(work, id_)["mask"], _answer(work, "rest_multi_80x48")["mask"])
    else:
        assert signature == "segment_queries"
    q = len(inputs["queries"])
    h, w = inputs["video"].shape[1:3]
    answer = _answer(work, id_)
    # Same as serving_default on the clip repeated once per query (what the single-query signature computes).
    reference = _reference(trained, np.repeat(inputs["video"][None], q, axis=0), inputs["queries"])
    _assert_matches(answer, reference, h, w)
    assert not np.allclose(answer["probability"][0], answer["probability"][1]), "queries should change the answer"


def test_png_masks_signature_answers_the_encoded_masks_in_kilobytes(fresh):
    """A REST integrator's 1920 x 1080 answer was 53 MB, 47 MB of it `probability` as JSON numbers: the
    `segment_encoded_png` signature answers each mask as a PNG, `{"b64": ...}` (an output named `_bytes`)."""
    import io

    results, work, _ = fresh
    assert results["outcomes"]["rest_png_80x48"] == {"ok": True}
    text = (work / "rest_png_80x48.response.json").read_text()
    outputs = json.loads(text)["outputs"]
    assert set(outputs) == {"mask_png_bytes", "empty", "score"}
    assert all(set(m) == {"b64"} for m in outputs["mask_png_bytes"])
    masks = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(m["b64"]))))
                      for m in outputs["mask_png_bytes"]])
    reference = _answer(work, "rest_encoded_80x48")
    np.testing.assert_array_equal(masks, reference["mask"] * 255)  # greyscale 0/255, as `--frames-dir` writes
    assert outputs["empty"] == reference["empty"].tolist()
    assert outputs["score"] == pytest.approx(reference["score"].tolist(), abs=1e-6)
    assert len(text) * 20 < len((work / "rest_encoded_80x48.response.json").read_text())


def test_jpeg_frames_are_decoded_in_the_graph(fresh, trained):
    results, work, requests = fresh
    assert results["outcomes"]["encoded_jpeg_80x48"] == {"ok": True}
    _, inputs = requests["encoded_jpeg_80x48"]
    decoded = np.stack([tf.io.decode_jpeg(f).numpy() for f in inputs["frames"]])  # what the graph sees
    reference = _reference(trained, np.repeat(decoded[None], len(inputs["queries"]), axis=0), inputs["queries"])
    _assert_matches(_answer(work, "encoded_jpeg_80x48"), reference, 80, 48)


@pytest.mark.parametrize("id_, message", [
    ("bad_rank4", r"video must be uint8 \[B, T, H, W, 3\] \(rank 5\)"),
    ("bad_float", r"expected to be a uint8 tensor but is a float tensor"),
    ("bad_empty_query", r"query is empty"),
    ("bad_punctuation_query", r"query is empty"),
    ("bad_unknown_words", r"query has no known word.*zebra xylophone"),
    # a security tester's 50 MB sentence was tokenized at a peak of 2.8 GB; `acga predict` refused it in one line
    ("bad_long_query", r"query is longer than the 65536 bytes a sentence may have \(in UTF-8\); positions "
                       r"\(from 0\):\] \[1\] \[bytes:\] \[80000\]"),
    ("bad_long_describe", r"query is longer than the 65536 bytes a sentence may have"),  # (a reviewer's: it was
    # tokenized, a 4 MB sentence at about 1 GB)
    ("bad_zero_frames", r"video has zero frames"),
    ("bad_wrong_t", r"video must have T = 8 frames \(clip_length of the model\)"),
    ("bad_batch_mismatch", r"B differs between video and query"),
    ("bad_rest_float", r"input 'video'.*not uint8"),
    ("bad_no_queries", r"queries is empty"),
    ("bad_multi_rank5", r"video must be uint8 \[T, H, W, 3\] \(rank 4\)"),
    ("bad_encoded_rank2", r"frames must be a string vector \[T\] of encoded images"),
    ("bad_encoded_wrong_t", r"frames must hold T = 8 encoded images \(clip_length of the model\)"),
    ("bad_encoded_not_an_image", r"frames must be PNG or JPEG images; got a frame that starts with.*not an i"),
    ("bad_encoded_gif", r"frames must be PNG or JPEG images; got a frame that starts with.*GIF8"),
    ("bad_encoded_webp", r"frames must be PNG or JPEG images; got a frame that starts with.*RIFF\ufffd\ufffd"),
    ("bad_encoded_bomb", r"frames must have at most 33177600 pixels each \(8K UHD, 7680 x 4320\); their headers "
                         r"declare H, W =.*30000 30000"),
    ("bad_encoded_zero_size", r"frames must each be at least 1 x 1 pixel; their headers declare H, W =.*80 48.*0 0"),
    ("bad_encoded_unsigned", r"frames must have at most 33177600 pixels each \(8K UHD, 7680 x 4320\); their "
                             r"headers declare H, W =.*4294967295 4294967295"),
    ("bad_encoded_sizes", r"frames must all be the size of the first one; their headers declare H, W =.*80 48.*48 80"),
    ("bad_encoded_cut_png", r"frames must be whole images; got a PNG frame cut short, of\] \[20\] \[bytes"),
    ("bad_encoded_cut_frames", r"frames must be whole images; these frames \(counted from 0\) end before their PNG "
                               r"IEND chunk or JPEG end-of-image marker, cut short or damaged:\] \[2 5\]$"),
    ("bad_encoded_png_cut_jpeg", r"cut short or damaged:\] \[7\]$"),
    ("bad_encoded_damaged_inside", r"^Invalid PNG data, size \d+$"),
    ("bad_rest_deep_strings", r"^input 'queries': strings nested 40 deep; a signature's inputs have at most 5"),
    ("bad_rest_ragged_strings", r"^input 'queries': not a rectangular array of strings"),
    ("bad_rest_empty_video", r"video must be uint8 \[B, T, H, W, 3\] \(rank 5\)"),
    ("bad_missing_input", r"^signature 'serving_default' takes inputs \['query', 'video'\]; unknown \[\], missing "
                          r"\['query'\]"),
])
def test_bad_requests_fail_clearly_and_the_process_survives(fresh, trained, id_, message):
    import re

    results, work, requests = fresh
    outcome = results["outcomes"][id_]
    assert not outcome["ok"]
    assert outcome["type"] == "InvalidArgumentError"
    assert re.search(message, outcome["message"]), outcome["message"][:500]
    assert not outcome["message"].startswith(("Graph execution error", "Detected at node")), "a client-facing message"
    # a notebook tester's: the rank check answered "... [Condition x == y did not hold element-wise:] [x (Rank_1:0) =
    # ] [0] [y (assert_equal_7/y:0) = ] [1]", the graph's tensor names in a client's error
    assert "did not hold" not in outcome["message"] and ":0) = ]" not in outcome["message"], outcome["message"]
    if id_ == "bad_encoded_damaged_inside":  # the frame is named by its length alone (docs/serving.md)
        assert outcome["message"] == f"Invalid PNG data, size {len(requests[id_][1]['frames'][3])}"
    after = f"after_{id_}"
    assert results["outcomes"][after] == {"ok": True}
    _, inputs = requests[after]
    _assert_matches(_answer(work, after), _reference(trained, inputs["video"], inputs["query"]), 48, 80)


def test_describe_queries_says_what_the_model_reads(fresh, trained):
    results, work, _ = fresh
    assert results["outcomes"]["describe"] == {"ok": True}
    answer = _answer(work, "describe")
    c = trained.config
    assert answer["words"].tolist() == [8, 5, 30]
    assert answer["known_words"].tolist() == [min(8, c.sentence_length), 3, 0]
    # The words among the first L only: the others are dropped (a count: words - L), not given zero vectors.
    assert answer["unknown_words"].tolist() == ["", "zebra and", " ".join(["zebra"] * c.sentence_length)]
    assert (int(answer["clip_length"]), int(answer["image_size"]), int(answer["sentence_length"])) == (
        c.clip_length, c.image_size, c.sentence_length)


def test_graph_has_only_stock_ops_and_needs_no_model_code(fresh):
    results, _, _ = fresh
    graph = results["graph"]
    assert graph["functions"] > 0 and len(graph["ops"]) > 20
    assert graph["python"] == [] and graph["unregistered"] == []
    # The in-graph pieces are there: tokenizer, hash table, letterbox resize/pad, model convolutions, asserts.
    assert {"StaticRegexReplace", "StringSplitV2", "LookupTableFindV2", "ResizeBilinear", "Conv3D", "Conv2D",
            "Sigmoid", "Assert"} <= set(graph["ops"]), graph["ops"]
    assert results["acga_modules_loaded"] == []


def test_signatures(fresh):
    results, _, _ = fresh
    assert results["signatures"] == {
        "serving_default": {"inputs": {"video": "uint8", "query": "string"},
                            "outputs": {"mask": "uint8", "empty": "bool", "score": "float32",
                                        "probability": "float32"}},
        "segment_queries": {"inputs": {"video": "uint8", "queries": "string"},
                            "outputs": {"mask": "uint8", "empty": "bool", "score": "float32",
                                        "probability": "float32"}},
        "segment_encoded": {"inputs": {"frames": "string", "queries": "string"},
                            "outputs": {"mask": "uint8", "empty": "bool", "score": "float32",
                                        "probability": "float32"}},
        "segment_encoded_png": {"inputs": {"frames": "string", "queries": "string"},
                                "outputs": {"mask_png_bytes": "string", "empty": "bool", "score": "float32"}},
        "describe_queries": {"inputs": {"queries": "string"},
                             "outputs": {"words": "int32", "known_words": "int32", "unknown_words": "string",
                                         "clip_length": "int32", "image_size": "int32", "sentence_length": "int32"}},
    }


@needs_serving_api
def test_warmup_file_is_prediction_logs_the_model_answers(exported, fresh, trained):
    from tensorflow_serving.apis import prediction_log_pb2

    records = [prediction_log_pb2.PredictionLog.FromString(r)
               for r in tf.data.TFRecordDataset(str(exported / WARMUP_FILE)).as_numpy_iterator()]
    assert [r.predict_log.request.model_spec.signature_name for r in records] == [
        "serving_default", "segment_queries", "segment_encoded", "segment_encoded_png"]
    first = serving.request_inputs(records[0].predict_log.request)
    assert first["video"].dtype == np.uint8 and first["video"].shape[:2] == (1, trained.config.clip_length)
    assert first["query"][0].decode() in trained.vocabulary.words
    results, _, _ = fresh
    h, w = first["video"].shape[2:4]
    assert results["warmup"] == [
        {"signature": "serving_default", "outputs": {"mask": [1, h, w], "empty": [1], "score": [1],
                                                "probability": [1, h, w]}},
        {"signature": "segment_queries", "outputs": {"mask": [2, h, w], "empty": [2], "score": [2],
                                                "probability": [2, h, w]}},
        {"signature": "segment_encoded", "outputs": {"mask": [1, h, w], "empty": [1], "score": [1],
                                                "probability": [1, h, w]}},
        {"signature": "segment_encoded_png", "outputs": {"mask_png_bytes": [1], "empty": [1], "score": [1]}}]


def test_the_docs_signature_tables_name_every_output(exported):
    """An export reviewer's: saved_models/README.md's table and its REST example left out `score`, which
    docs/serving.md listed: each table's row of a signature names each of its outputs."""
    loaded = tf.saved_model.load(str(exported))
    repo = pathlib.Path(__file__).resolve().parent.parent
    for doc in ("saved_models/README.md", "docs/serving.md"):
        rows = {line.split("|")[1].strip().strip("`"): line.split("|")[3]
                for line in (repo / doc).read_text().splitlines() if line.startswith("| `")}
        for name in ("serving_default", "segment_queries", "segment_encoded_png"):
            outputs = loaded.signatures[name].structured_outputs
            assert all(f"`{output}`" in rows[name] for output in outputs), (doc, name, sorted(outputs))


def test_export_traces_each_signature_once(exported, export_traces):
    """tf.saved_model.save gets concrete functions: a `tf.function` would be traced again in its save context
    (docs/serving.md#export)."""
    assert export_traces == {"segment": 1, "segment_queries": 1, "segment_encoded": 1, "segment_encoded_png": 1,
                             "describe_queries": 1}


def test_version_folder_layout(exported, run_dir):
    name_dir, base = exported.parent, exported.parent.parent
    assert sorted(p.name for p in name_dir.iterdir()) == ["1"], "no staging folder left behind"
    assert (exported / "saved_model.pb").is_file() and (exported / "variables" / "variables.index").is_file()
    assert (exported / WARMUP_FILE).is_file() == HAS_SERVING_API  # skipped (with a warning) without the API
    # where the version came from (a reproducibility auditor's: a served version could not be traced to its run)
    record = json.loads((exported / "assets.extra" / "acga_provenance.json").read_text())
    assert record["model"] == run_dir.name  # the run's folder, by its name alone (`--no-host-paths`)
    source = artifacts.load_trained(str(run_dir))
    assert record["config"] == source.config.to_dict()
    assert record["weights"] == artifacts.arrays_digest(source.model.weights)
    assert record["software"]["keras"] == keras.__version__ and record["host"]["cores"] == os.cpu_count()
    text = (base / "models.config").read_text()
    if HAS_SERVING_API:
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
        (entry,) = config.model_config_list.config
        assert (entry.name, entry.base_path, entry.model_platform) == ("acga", "/models/acga", "tensorflow")
    else:
        assert 'name: "acga"' in text and 'base_path: "/models/acga"' in text


def test_the_export_is_readable_by_other_users(exported):
    """A TF Serving process running as another user can read the version folder (the umask decides, as for any
    file; the tests run with the usual 022)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [exported, *exported.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        wanted = (0o777 if path.is_dir() else 0o666) & ~umask & 0o755
        assert mode & wanted == wanted, (str(path), oct(mode), oct(umask))


def test_a_savedmodel_in_a_folder_whose_name_holds_a_glob_character_loads(exported, tmp_path, monkeypatch):
    """A tester's "exp3 [v2]/acga/1": "cannot load the SavedModel (... Failed to find any matching files for
    .../variables/variables); export it again", which failed again: TensorFlow's checkpoint reader takes the
    variables' path as a glob. Loaded through a link without one; the answers are the model's."""
    copy = tmp_path / "exp3 [v2]" / "acga" / "1"
    shutil.copytree(exported, copy)
    clip = {"video": np.zeros((1, 8, 48, 64, 3), np.uint8), "query": np.array(SENTENCES[:1], object)}
    here = serving.LocalServer(str(copy)).run(clip)
    np.testing.assert_array_equal(here["mask"], serving.LocalServer(str(exported)).run(clip)["mask"])
    # a temporary folder whose path holds one too (a reviewer's TMPDIR "tmp [t]": the link was a pattern again)
    temporary = tmp_path / "tmp [t]"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    np.testing.assert_array_equal(serving.LocalServer(str(copy)).run(clip)["mask"], here["mask"])


@needs_serving_api
@pytest.mark.parametrize("name", ["acga", 'my "acga" model', "back\\slash", "vidéo"])
def test_models_config_parses_as_model_server_config(name):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    from acga_tf.serving.export import models_config_text

    text = models_config_text(name, f"/models/{name}")
    (entry,) = text_format.Parse(text, model_server_config_pb2.ModelServerConfig()).model_config_list.config
    assert (entry.name, entry.base_path) == (name, f"/models/{name}")


@pytest.mark.parametrize("version, message", [("latest", "must be an integer version"), ("v2", "integer version"),
                                              ("1", "already exists"),
                                              ("9223372036854775808", "past the largest TF Serving reads"),
                                              ("01", "version 1 already exists as ")])  # (both are TF Serving's 1)
def test_version_folder_is_validated(run_dir, exported, tmp_path, capsys, version, message):
    parent = exported.parent if version in ("1", "01") else tmp_path / "acga"
    with pytest.raises(ValueError, match=message):
        export_model(str(run_dir), str(parent / version))
    assert main(["export", "--model", str(run_dir), "--output", str(parent / version)]) == 2
    assert message in capsys.readouterr().err


def test_a_version_tf_serving_cannot_read_is_passed_over_as_it_passes_it_over(exported, tmp_path):
    """An export reviewer's: version 99999999999999999999 (past int64) was exported, TF Serving served version 1
    beside it, and `acga predict --model saved_models/acga` took the other one."""
    from acga_tf.training.artifacts import saved_model_version, unfinished_saved_model

    name_dir = tmp_path / "acga"
    shutil.copytree(exported, name_dir / "1")
    shutil.copytree(exported, name_dir / "99999999999999999999")
    assert saved_model_version(str(name_dir)) == str(name_dir / "1")
    assert unfinished_saved_model(str(name_dir)) is None
    # the check for an unfinished highest version agrees (a diff reviewer's: it looked at the one past int64 only)
    (name_dir / "5" / "variables").mkdir(parents=True)
    assert unfinished_saved_model(str(name_dir)) == str(name_dir / "5")
    shutil.rmtree(name_dir / "5")
    shutil.rmtree(name_dir / "99999999999999999999")
    (name_dir / "99999999999999999999").mkdir()  # an empty folder TF Serving passes over: no warning of it
    assert unfinished_saved_model(str(name_dir)) is None


def test_a_vocabulary_no_sentence_can_match_is_said_and_gets_no_warmup_that_would_fail(tmp_path, caplog):
    """An export reviewer's: a vocabulary built by hand (["don't", "Red", ...]) got warmup requests of its first word,
    which the tokenizer never gives (lower case, split at punctuation): each failed, and TF Serving refuses a version
    whose warmup fails. The warmup takes the first word a sentence can hold; the words none can are named."""
    from acga_tf.serving.export import readable_word

    with caplog.at_level(logging.WARNING):
        assert readable_word(["don't", "Red", "circle", "red"], "run") == "circle"
    assert "run: 2 of the model's 4 words can never match a sentence's, which the model reads as " \
           "acga_tf.data.text.tokenize does (" in caplog.text and "Han characters): \"don't\", 'Red'" in caplog.text
    caplog.clear()
    config = ACGAConfig.preset("tiny")
    vocab = Vocabulary(["don't", "Red"])
    matrix, _ = vocab.embedding_matrix(dim=config.word_dim, seed=0)
    artifacts.save_trained(str(tmp_path / "run"), ACGA(config), vocab, matrix)
    with caplog.at_level(logging.WARNING):
        path = export_model(str(tmp_path / "run"), str(tmp_path / "models" / "acga" / "1"))
    assert "skipping the warmup requests: no word of the model's vocabulary is one a sentence is read as" in caplog.text
    assert not os.path.exists(os.path.join(path, WARMUP_FILE)) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def test_export_refuses_non_rgb_models(tmp_path):
    config = ACGAConfig.preset("tiny", modality="flow")
    vocab = Vocabulary.build(SENTENCES)
    matrix, _ = vocab.embedding_matrix(dim=config.word_dim, seed=0)
    artifacts.save_trained(str(tmp_path / "run"), ACGA(config), vocab, matrix)
    with pytest.raises(ValueError, match="RGB frames.*modality is 'flow'"):
        export_model(str(tmp_path / "run"), str(tmp_path / "models" / "acga" / "1"))
    assert not (tmp_path / "models" / "acga" / "1").exists()


def test_missing_serving_api_raises_a_clear_import_error(trained, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[serving\]" in the acga-tf checkout'):
        warmup_requests(trained.config, "man", "acga")
    with pytest.raises(ImportError, match="tensorflow-serving-api"):
        serving.predict_request({"query": np.array(["a"], object)})


def test_export_without_serving_api_skips_warmup_with_a_warning(trained, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    path = export_model(trained, str(tmp_path / "acga" / "3"))  # a loaded run (the other tests export paths)
    assert "skipping the warmup requests" in caplog.text and "pip install" in caplog.text
    assert not os.path.exists(os.path.join(path, WARMUP_FILE))
    assert os.path.exists(os.path.join(path, "saved_model.pb"))


@pytest.mark.parametrize("failure", ["full_disk", "interrupted"])
def test_an_export_that_fails_names_its_folder_and_leaves_no_folder_it_made(trained, tmp_path, monkeypatch, capsys,
                                                                            failure):
    """A Unix user's, on a full disk: TensorFlow's error named its own temporary file (".../1.partial/variables/
    variables_temp/part-00000-of-00001.data-00000-of-00001.tempstate7452918558776756583; No space left on
    device"), and an empty `acga/` was left, as after `timeout` stopped an export."""
    output = tmp_path / "models" / "acga" / "1"

    def save(obj, staging, signatures=None):
        os.makedirs(os.path.join(staging, "variables"))
        if failure == "interrupted":
            raise KeyboardInterrupt
        raise tf.errors.ResourceExhaustedError(None, None, f"{staging}/variables/variables_temp/part-00000-of-00001"
                                                           ".data-00000-of-00001.tempstate745; No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", save)
    with pytest.raises(ValueError if failure == "full_disk" else KeyboardInterrupt) as error:
        export_model(trained, str(output))
    if failure == "full_disk":
        assert str(error.value) == f"{output}: not exported (No space left on device); nothing was written there"
    assert not (tmp_path / "models").exists()  # models/acga/ made for the export: removed
    (tmp_path / "models" / "acga" / "keep").mkdir(parents=True)
    with pytest.raises(ValueError if failure == "full_disk" else KeyboardInterrupt):
        export_model(trained, str(output))
    assert os.listdir(tmp_path / "models" / "acga") == ["keep"]  # a folder that was there is kept


def test_ctrl_c_while_the_savedmodel_is_written_waits_for_it_then_leaves_no_version(trained, tmp_path, monkeypatch):
    """A Unix user's `timeout`/Ctrl-C during `acga export`: raised inside TensorFlow's writer, the interruption became
    an AssertionError's traceback (status 1), or was swallowed (status 0), or left a complete version (status 130).
    It now waits for the writer, then stops the export: no version folder, KeyboardInterrupt (status 130)."""
    import signal

    real_save, finished = tf.saved_model.save, []

    def interrupted_save(obj, staging, signatures=None):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while TensorFlow writes
        real_save(obj, staging, signatures=signatures)
        finished.append(staging)

    monkeypatch.setattr(tf.saved_model, "save", interrupted_save)
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)  # no warmup: quicker
    with pytest.raises(KeyboardInterrupt):
        export_model(trained, str(tmp_path / "models" / "acga" / "1"))
    assert len(finished) == 1 and not (tmp_path / "models").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_an_export_into_a_model_folder_another_export_is_writing_is_refused(run_dir, tmp_path, capsys):
    """An automation engineer's two exports of one version at once: the later removed the earlier's staging folder,
    failed with status 2 ("file already exists") and left its own 8.5 MB `3.partial`. The model's folder is locked
    while a version is written in it (here another process's lock, as `flock` sees an open file of this one)."""
    from acga_tf.ops import files

    model = tmp_path / "models" / "acga"
    model.mkdir(parents=True)
    lock = files.WriteLock(str(model))
    try:
        assert main(["export", "--model", str(run_dir), "--output", str(model / "3")]) == 75
    finally:
        lock.release()
    assert capsys.readouterr().err.strip() == (f"acga export: error: {model} (--output): another run is writing it "
                                               "now; wait for it to end, or write elsewhere")
    assert os.listdir(model) == []


def test_a_runs_damaged_record_does_not_stop_the_export(run_dir, tmp_path, caplog):
    """A QA engineer's: a run whose provenance.json was not JSON could not be exported ("Expecting value: line 2
    column 1", naming no file); the record is optional: the export says so and goes on."""
    from acga_tf.serving.export import export_record

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / artifacts.PROVENANCE_FILE).write_text('{"sessions": [\n')
    checkpoint = str(copy / artifacts.MODEL_FILE)
    record = export_record(artifacts.load_trained(str(copy)), checkpoint)
    assert record["training"] is None and record["model"] == checkpoint  # the file given, a checkpoint's too
    assert f"{copy / artifacts.PROVENANCE_FILE}: not read into the export's record" in caplog.text


_SERVE = """import sys
import numpy as np
from acga_tf.serving.client import LocalServer
clip = np.load(sys.argv[2])
out = LocalServer(sys.argv[1]).run({"video": clip, "queries": np.array(sys.argv[4:], object)}, "segment_queries")
np.save(sys.argv[3], out["probability"])
"""


@pytest.mark.slow  # (27 s in the suite): the default suite serves the standard export in a fresh process, and saves and
# loads models with stages of one's own (tests/test_acga.py)
def test_the_export_of_a_model_with_a_stage_of_its_own_serves_where_the_class_is_unknown(tmp_path):
    """docs/model.md#extending: the SavedModel holds the graph, not the classes, so a process that never imported
    the stage's class (TF Serving's, `acga predict`'s) serves it, with the probabilities of the process that did."""
    config = ACGAConfig.preset("tiny")
    keras.utils.set_random_seed(0)
    model = ACGA(config, stages={"text_encoder": GRUTextEncoder(config.text_dim, name="gru_text")})
    vocab = Vocabulary.build(SENTENCES)
    matrix, _ = vocab.embedding_matrix(dim=config.word_dim, seed=0)
    version = export_model(artifacts.TrainedModel(model, config, vocab, matrix, str(tmp_path)),
                           str(tmp_path / "saved_models" / "acga" / "1"), warmup=False)
    clip = np.random.default_rng(0).integers(0, 256, (config.clip_length, 24, 32, 3), dtype=np.uint8)
    here = serving.LocalServer(version).run({"video": clip, "queries": np.array(SENTENCES[:2], object)},
                                            "segment_queries")["probability"]
    np.save(tmp_path / "clip.npy", clip)
    subprocess.run([sys.executable, "-c", _SERVE, version, str(tmp_path / "clip.npy"), str(tmp_path / "p.npy"),
                    *SENTENCES[:2]], check=True, capture_output=True, timeout=300)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), here, atol=1e-6)


def test_no_host_paths_cuts_each_path_of_the_record_to_its_name(run_dir, tmp_path):
    """A reviewer's: a shipped model's acga_provenance.json carried the exporting host's folders (the run's, its
    shards', its commands'); `--no-host-paths` keeps the names alone, and the rest of the record."""
    from acga_tf.serving.export import export_record

    copy = tmp_path / "home" / "me" / "runs" / "acga"
    shutil.copytree(run_dir, copy)
    (copy / artifacts.PROVENANCE_FILE).write_text(json.dumps({"sessions": [{
        "argv": ["/home/me/bin/acga", "train", "--data=/data/a2d/train-*.tfrecord", "--output", str(copy), "-e", "3",
                 "--val-data", "runs/alice/val-*.tfrecord", "--word-vectors=gs://alice-bucket/glove.txt"],
        "cwd": "/home/me", "data": {"pattern": "/data/a2d/train-*.tfrecord",
                                    "shards": [{"file": "/data/a2d/train-00000-of-00001.tfrecord", "sha256": "ab"}]},
        "word_vectors": {"file": "/data/glove.840B.300d.txt", "digest": "cd"}, "val_data": None}]}))
    record = export_record(artifacts.load_trained(str(copy)), host_paths=False)  # (the command's: `exported`)
    dumped = json.dumps(record)
    assert not [part for part in ("/home/me", "/data/", "alice", str(tmp_path)) if part in dumped], dumped
    (session,) = record["training"]["sessions"]
    assert session == {"argv": ["acga", "train", "--data=train-*.tfrecord", "--output", "acga", "-e", "3",
                                "--val-data", "val-*.tfrecord", "--word-vectors=glove.txt"],  # (relative, a URL too)
                       "cwd": "me", "data": {"pattern": "train-*.tfrecord",
                                             "shards": [{"file": "train-00000-of-00001.tfrecord", "sha256": "ab"}]},
                       "word_vectors": {"file": "glove.840B.300d.txt", "digest": "cd"}, "val_data": None}
    assert record["model"] == "acga" and record["weights"] == artifacts.arrays_digest(
        artifacts.load_trained(str(copy)).model.weights)


def test_no_host_paths_keeps_the_strings_that_are_not_paths(run_dir, tmp_path):
    """A reviewer's: `--no-host-paths` cut any string holding a "/" to what followed its last one (a GPU's "A100 /
    MIG 3g.40gb" became " MIG 3g.40gb", a `--set` value "1/2" "2"). A "/" between spaces or digits is no path's, and
    is kept; any other separator is a path's, whatever option of a user's own script it follows (a diff reviewer's:
    a first mend kept "data/alice/a2d" after a script's "--dataset-dir", and "note=/home/alice/x"), Windows' too."""
    from acga_tf.serving.export import export_record

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / artifacts.PROVENANCE_FILE).write_text(json.dumps({"sessions": [{
        "argv": ["train.py", "--set", "note=1/2", "--out", "runs/bob/exp2", "data/a2d/train-*.tfrecord",
                 "--set=ratio=3/4", "--dataset-dir", "data/alice/a2d", "--set", "note=/home/alice/x",
                 "--set=log=~/alice/log.txt", "C:\\Users\\alice\\a2d", "--in", "/Users/Jane Doe/a2d"],
        "cwd": "work/bob", "data": {"pattern": "data/a2d/train-*.tfrecord", "shards": []},
        "host": {"gpu": "NVIDIA A100 / MIG 3g.40gb", "url": "https://example.org/a"},
        "note": "cannot open '/home/Jane Doe/x.h5': No such file, 06/12/2026",
        "sizes": {"/home/alice/y.tfrecord": 3, "/data/y.tfrecord": 4},
        # a fourth reviewer's: paths after a prefix in text, a setting's relative value with a space, a URL's user,
        # password and query, a folder of digits, a chain of a thousand settings, a path key beside its field
        "log": "python t.py --data=/Users/Jane Doe/a2d -e 3; open(/home/Jane Doe/x.h5) failed on A100 / MIG",
        "stages": "note=runs/Jane Doe/x", "urls": ["https://alice:pw@example.org/a?token=alice", "ssh://alice@host"],
        "digits": "alice2/2024", "chain": "a=" * 1000 + "/home/alice/x", "/home/alice/model": "m", "model": "/x/y"}]}))
    record = export_record(artifacts.load_trained(str(copy)), host_paths=False)
    assert not [part for part in ("alice", "Jane", "runs/bob") if part in json.dumps(record)], record
    (session,) = record["training"]["sessions"]
    assert session == {"argv": ["train.py", "--set", "note=1/2", "--out", "exp2", "train-*.tfrecord", "--set=ratio=3/4",
                                "--dataset-dir", "a2d", "--set", "note=x", "--set=log=log.txt", "a2d", "--in", "a2d"],
                       "cwd": "bob", "data": {"pattern": "train-*.tfrecord", "shards": []},
                       "host": {"gpu": "NVIDIA A100 / MIG 3g.40gb", "url": "a"},
                       "note": "cannot open 'x.h5': No such file, 06/12/2026",
                       "sizes": {"y.tfrecord": 3, "y.tfrecord (2)": 4},
                       "log": "python t.py --data=a2d -e 3; open(x.h5) failed on A100 / MIG", "stages": "note=x",
                       "urls": ["a", "host"], "digits": "2024", "chain": "a=" * 1000 + "x", "model (2)": "m",
                       "model": "y"}
    # (mends reviewers': the text was cut to "x.h5: No such file, ...", a key was kept whole, then a path with a
    # space was cut word by word, "Jane a2d", and two keys of one name were one)


def test_no_host_paths_keeps_prose_with_a_slash_and_cuts_relative_paths():
    """A fixer's brief: in free text "and/or" became "or" and "I/O" "O"; then "I/O-bound" "O-bound" (a review). A
    word of letters on both sides of one "/" (after it, a hyphen or an apostrophe between letters) is prose there
    (docs/serving.md#layout); a relative path of free text has another sign of a path (a digit, a dot, "_", a hyphen
    or an apostrophe before the "/", a second separator, "~": a reviewer's "jane-doe/videos" was kept whole), and a
    command line's argument or a setting's value is a path whatever it holds."""
    record = {"note": "I/O-bound, read/write-heavy, data/train_set, see jane-doe/videos, D'Angelo/Desktop; read and/or "
                      "write: I/O failed (TCP/IP), input/output, \"km/h\" w/o N/A; see data/a2d, runs/demo/model.keras "
                      "and ~/x.",
              "argv": ["train.py", "--mode", "and/or", "--data", "data/a2d", "runs/demo/model.keras", "--set=x=I/O"],
              "log": "python t.py --data=data/train mode=input/output; cd runs/exp1"}
    assert provenance.without_folders(record) == {
        "note": "I/O-bound, read/write-heavy, train_set, see videos, Desktop; read and/or write: I/O failed (TCP/IP), "
                "input/output, \"km/h\" w/o N/A; see a2d, model.keras and x.",
        "argv": ["train.py", "--mode", "or", "--data", "a2d", "model.keras", "--set=x=O"],
        "log": "python t.py --data=train mode=output; cd exp1"}


def test_no_host_paths_cuts_paths_in_a_home_of_any_user():
    """A fixer's brief: "~alice/data/a2d" (another user's home) was said to be kept whole; it is cut to its last name
    as any path is, in text, a command line, a setting's value, a path field and a key, and "~/x" too (this passed
    before the brief's mends: a pin)."""
    record = {"note": "copied ~alice/data/a2d and ~/x (from '~bob/My Data/a2d')",
              "argv": ["acga", "~alice/data/a2d", "--data=~alice/data/a2d", "~/x", "C:~alice"],
              "cwd": "~alice/data/a2d", "~alice/data/b2d": 1}
    assert provenance.without_folders(record) == {"note": "copied a2d and x (from 'a2d')",
                                                  "argv": ["acga", "a2d", "--data=a2d", "x", "C:~alice"],
                                                  "cwd": "a2d", "b2d": 1}


def test_no_host_paths_keeps_a_path_fields_value_that_holds_no_path():
    """A fixer's brief: a string under a path field (`model`, `source`, ...) was cut at any "/", though one without a
    path's separator (a served model's name, "ACGA / tiny", "1/2") holds no folder; a URL is still cut to its last
    name (its host left out), a path to its own."""
    record = {"model": "acga", "source": "http://alice-host:8501/v1/models/acga", "file": "ACGA / tiny, 1/2",
              "pattern": "my shards/train-*.tfrecord", "cwd": "/"}
    assert provenance.without_folders(record) == {"model": "acga", "source": "acga", "file": "ACGA / tiny, 1/2",
                                                  "pattern": "train-*.tfrecord", "cwd": "/"}


def test_no_host_paths_cuts_a_url_that_python_cannot_split():
    """A reviewer's: a URL Python's `urlsplit` refuses ("Invalid IPv6 URL") was a traceback of `acga export
    --no-host-paths`; it is cut as a path now, its host with its folders."""
    record = {"model": "http://[::1/x", "note": "served from http://[alice-host/models/acga before"}
    assert provenance.without_folders(record) == {"model": "x", "note": "served from acga before"}


def test_export_switches_take_true_or_false_alone(tmp_path):
    """A library tester's: `export_model(run, out, float32="no")` exported in float32 (any truthy value was taken);
    `predict(probabilities="no")` was refused. Refused the same, before anything is read or written."""
    for keyword in ("float32", "host_paths"):
        with pytest.raises(TypeError, match=rf"^{keyword}='no': True or False$"):
            export_model(str(tmp_path / "no_run"), str(tmp_path / "acga" / "1"), **{keyword: "no"})
    assert not (tmp_path / "acga").exists()
