"""acga_tf.serving.client.RestClient and the remote predictor (acga_tf.apps.predictors.ServingPredictor) against a
server that is not TF Serving over an acga-tf SavedModel: one that answers slowly, at length, or with outputs of the
wrong type, shape or size (docs/serving.md#predict). Each refusal is one line naming the server's URL."""

import base64
import http.server
import json
import threading
import time
import urllib.parse
import warnings
import zlib

import numpy as np
import pytest
import tensorflow as tf
from runs import QUERY, moving_frames, write_video

from acga_tf.apps.predict import iter_masks, predict
from acga_tf.apps.predictors import load_predictor
from acga_tf.cli import main
from acga_tf.serving import client
from acga_tf.serving.client import SIGNATURES, RestClient, ServiceUnavailable

H, W = 24, 32  # the frames' size
DESCRIBE = {"words": [2], "known_words": [2], "unknown_words": [""], "clip_length": 4, "image_size": 32,
            "sentence_length": 8}
# A server of an export without segment_encoded_png (before 2026-12-05, midday): masks come back as numbers
METADATA = {"metadata": {"signature_def": {"signature_def": {name: {} for name in SIGNATURES
                                                             if name != "segment_encoded_png"}}}}
GOOD = {"mask": np.zeros((1, H, W), int).tolist(), "empty": [True],  # one sentence, one clip
        "probability": np.full((1, H, W), 0.25).tolist()}
VIDEO = {"video": np.zeros((4, H, W, 3), np.uint8), "queries": np.array([QUERY], object)}


class FakeServing:
    """A stdlib HTTP server on 127.0.0.1 (a free port, a thread) that answers `POST /v1/models/NAME:predict` and
    `GET /v1/models/NAME/metadata` as `behaviours[NAME]` says: `{signature or "metadata": JSON object}` (the others:
    a good describe_queries, metadata and segment answer), or a function `(handler, signature)` that writes the
    answer itself."""

    def __init__(self):
        self.behaviours, self.released = {}, threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def send(self, body: bytes, length: int | None = None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def answer(self, signature: str) -> None:
                name = self.path.split("/v1/models/")[1].split(":")[0].split("/")[0]
                behaviour = fake.behaviours.get(name, {})
                if callable(behaviour):
                    return behaviour(self, signature)
                body = behaviour.get(signature) or {"metadata": METADATA, "describe_queries": {"outputs": DESCRIBE}
                                                    }.get(signature, {"outputs": GOOD})
                data = json.dumps(body).encode()
                self.send(data, len(data))

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.answer(body.get("signature_name"))

            def do_GET(self):  # noqa: N802
                self.answer("metadata")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def url(self, name: str, behaviour) -> str:
        self.behaviours[name] = behaviour
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/models/{name}"

    def trickle(self, handler, data: bytes, every: float = 0.1) -> None:
        """Writes `data` a byte every `every` seconds, until the server is stopped."""
        for byte in data:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            if self.released.wait(every):
                return

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.released.set()  # hanging handlers return
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    with FakeServing() as server:
        yield server


def error_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# === RestClient: deadline and size ===
def test_a_trickling_answer_times_out_at_the_deadline(fake):
    """Before: urllib's timeout bounds each read, so an answer of one byte every 0.1 s took 6 s (one every 2 s
    forever: never timed out)."""
    body = json.dumps({"outputs": {"mask": [0]}}).encode().ljust(60)

    def trickle(handler, signature):
        handler.send(b"", len(body))
        fake.trickle(handler, body)

    url = fake.url("trickle", trickle)
    start = time.monotonic()
    with pytest.raises(OSError) as error:
        RestClient(url, timeout=1).run(VIDEO, "segment_queries")
    assert error_line(error).startswith(f"{url}: no complete answer within 1 s")
    assert time.monotonic() - start < 3


@pytest.mark.parametrize("signature", ["segment_queries", "metadata"])
def test_trickling_headers_time_out_at_the_deadline(fake, signature):
    """Before: the status line and headers were read by urllib, each wait bounded by the timeout but not their sum,
    so headers of one byte every 0.1 s took 20 s with `timeout=1` (one byte every 2 s: never timed out)."""
    def trickle(handler, signature):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        fake.trickle(handler, b"X-Slow: " + b"z" * 200)

    url = fake.url("slow_headers", trickle)
    start = time.monotonic()
    with pytest.raises(OSError) as error:
        if signature == "metadata":
            RestClient(url, timeout=1).signature_names()
        else:
            RestClient(url, timeout=1).run(VIDEO, signature)
    assert error_line(error) == f"{url}{'/metadata' if signature == 'metadata' else ''}: " \
        "no complete answer within 1 s (the timeout)"
    assert time.monotonic() - start < 3


@pytest.mark.parametrize("status, reason", [(503, "Service Unavailable"), (404, "Not Found"),
                                            (500, "Internal Server Error")])
def test_a_server_that_cannot_answer_now_is_an_oserror_not_a_bad_request(fake, status, reason):
    """TF Serving answers 503 while a version loads, 404 for a version it does not serve (yet), 500 for its own
    failures, each with a JSON error. Before: all were InvalidArgumentError, "the server refused the request", and
    loading a predictor said "cannot use this SavedModel ...; export it again": a caller retrying on OSError never
    retried, and the operator was told to re-export a model that was fine. A 400 is still the request's fault."""
    def answer(code):
        def behaviour(handler, signature):
            body = json.dumps({"error": "Model is unavailable: the model is being reloaded"}).encode()
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        return behaviour

    url = fake.url("busy", answer(status))
    with pytest.raises(OSError) as error:
        RestClient(url, timeout=5).run(VIDEO, "segment_queries")
    assert error_line(error) == f"{url}: HTTP {status} {reason}: Model is unavailable: the model is being reloaded"
    # a 5xx may pass (acga exits 69 for it, a script retries); a 404 names a model or version that is not served
    assert isinstance(error.value, ServiceUnavailable) == (status >= 500)
    with pytest.raises(OSError) as error:
        load_predictor(url)
    assert error_line(error).startswith(f"{url}: HTTP {status} {reason}")
    refused = fake.url("refused", answer(400))
    with pytest.raises(tf.errors.InvalidArgumentError):
        RestClient(refused, timeout=5).run(VIDEO, "segment_queries")


def test_a_silent_server_times_out_naming_the_timeout(fake):
    url = fake.url("hang", lambda handler, signature: fake.released.wait(30))
    with pytest.raises(OSError) as error:
        RestClient(url, timeout=0.5).run(VIDEO, "segment_queries")
    assert error_line(error) == f"{url}: no complete answer within 0.5 s (the timeout)"  # before: "cannot reach"
    assert isinstance(error.value, ServiceUnavailable)


@pytest.mark.parametrize("declared", [True, False])
def test_an_answer_longer_than_the_bound_is_refused(fake, monkeypatch, declared):
    """Before: read whole (a 300 MB answer took the client to 1.8 GB)."""
    monkeypatch.setattr(client, "MAX_ANSWER_BYTES", 10_000)
    body = json.dumps({"outputs": {"mask": [0] * 50_000}}).encode()
    url = fake.url("long", lambda handler, signature: handler.send(body, len(body) if declared else None))
    with pytest.raises(OSError) as error:
        RestClient(url).run(VIDEO, "segment_queries")
    assert error_line(error).startswith(f"{url}: the answer is longer than 10000 bytes")
    assert (f"(Content-Length {len(body)})" in str(error.value)) == declared


def test_a_declared_length_past_the_bound_is_refused_before_reading(fake):
    def declare(handler, signature):  # 3 GiB promised, a few bytes sent, the connection kept open
        handler.send(b'{"outputs": ', 3 << 30)
        fake.released.wait(30)

    url = fake.url("huge", declare)
    start = time.monotonic()
    with pytest.raises(OSError) as error:
        RestClient(url, timeout=5).run(VIDEO, "segment_queries")
    assert error_line(error) == (f"{url}: the answer is longer than {1 << 31} bytes, more than any answer asked for; "
                                 f"refused (Content-Length {3 << 30})")
    assert time.monotonic() - start < 3


def test_a_metadata_answer_longer_than_its_bound_is_refused(fake, monkeypatch):
    monkeypatch.setattr(client, "MAX_SMALL_ANSWER_BYTES", 1000)
    url = fake.url("metadata", {"metadata": {"metadata": {"signature_def": {"signature_def": {
        f"signature_{i}": {} for i in range(1000)}}}}})
    with pytest.raises(OSError) as error:
        RestClient(url).signature_names()
    assert error_line(error).startswith(f"{url}/metadata: the answer is longer than 1000 bytes")


@pytest.mark.parametrize("body, message", [
    (b"[" * 100_000, "the answer is not JSON (RecursionError"),
    (b'{"outputs": {"mask": [[1], [1, 2]]}}', "the answer's output 'mask' is not a rectangular array"),
    (b'{"outputs": {"mask_png_bytes": ["x"]}}', "the answer's output 'mask_png_bytes' is not a rectangular array "
                                              "of {'b64': ...} objects"),
])
def test_answers_that_numpy_cannot_read_name_the_server(fake, body, message):
    """Before: RecursionError, or NumPy's 'inhomogeneous shape' ValueError, naming no server."""
    url = fake.url("odd", lambda handler, signature: handler.send(body, len(body)))
    with pytest.raises(OSError) as error:
        RestClient(url).run(VIDEO, "segment_queries")
    assert error_line(error).startswith(f"{url}: {message}")


def test_a_bytes_output_comes_back_as_bytes(fake):
    """TF Serving writes a string output named `..._bytes` as `{"b64": ...}` (`segment_encoded_png`'s masks)."""
    png = b"\x89PNG\r\n\x1a\n not UTF-8 \xff"
    body = {"outputs": {"mask_png_bytes": [{"b64": base64.b64encode(png).decode()}], "empty": [False]}}
    url = fake.url("png", {"segment_encoded_png": body})
    outputs = RestClient(url).run({"frames": np.array([png], object), "queries": np.array([QUERY], object)},
                                  "segment_encoded_png")
    assert outputs["mask_png_bytes"].tolist() == [png] and outputs["empty"].tolist() == [False]


def test_a_model_name_outside_ascii_or_with_a_space_is_requested_percent_encoded(fake):
    """A multilingual tester's `--model http://HOST:8501/v1/models/模型甲` failed in http.client ("'ascii' codec can't
    encode characters in position 16-18"), and a name with a space was "not a TF Serving model URL" although `acga
    export` writes such names into models.config. The path is percent-encoded when requested (an escape typed is
    kept); messages name the URL as given."""
    name = "模型 甲"
    encoded = urllib.parse.quote(name)
    url = fake.url(encoded, {}).replace(encoded, name)
    rest = RestClient(url)
    assert rest.run({"queries": np.array(["a"], object)}, "describe_queries")["clip_length"] == DESCRIBE["clip_length"]
    assert rest.signature_names() and RestClient(fake.url(encoded, {})).signature_names() == rest.signature_names()
    assert load_predictor(url).source == url
    # a "%" that begins no escape is encoded, one that does is kept (a QA tester's "100%" was sent as it was)
    only = {"metadata": {"metadata": {"signature_def": {"signature_def": {"served_as_100%": {}}}}}}
    assert RestClient(fake.url("100%25", only).replace("100%25", "100%")).signature_names() == ["served_as_100%"]
    with pytest.raises(ValueError, match="not a TF Serving model URL"):  # a line break in the name
        RestClient(fake.url("a", {}) + "\nb")


# === The remote predictor: outputs checked against the request ===
@pytest.mark.parametrize("answer, message", [
    ({"clip_length": 1_000_000}, "gives clip_length 1000000, expected 1 to 256 (the bound of an acga-tf model's "
                                 "config): not an acga-tf SavedModel"),
    ({"sentence_length": 10**6}, "gives sentence_length 1000000, expected 1 to 1024"),
    ({"clip_length": 0}, "gives clip_length 0, expected 1 to 256"),
    ({"clip_length": 8.5}, "gives clip_length 8.5 and sentence_length 8, not integers"),
    ({"words": [1, 2]}, "gives words of dtype int64 and shape (2,), expected integers of shape (1,)"),
    ({"unknown_words": [[""]]}, "gives unknown_words of dtype <U1 and shape (1, 1), expected strings of shape (1,)"),
])
def test_describe_answers_beyond_the_models_bounds_are_refused(fake, answer, message):
    """Before: clip_length 1,000,000 was taken, and the client allocated clips of a million frames until killed."""
    url = fake.url("describe", {"describe_queries": {"outputs": {**DESCRIBE, **answer}}})
    with pytest.raises(ValueError) as error:
        load_predictor(url)
    assert error_line(error).startswith(f"{url}: the answer to describe_queries {message}")


@pytest.mark.parametrize("answer, message", [
    ({**GOOD, "mask": "garbage", "empty": "yes"}, f"gives mask of dtype <U7 and shape (), expected integers of shape "
                                          f"(1, {H}, {W}): not an acga-tf SavedModel served by TF Serving"),
    ({**GOOD, "mask": [[1]], "empty": [False]}, f"gives mask of dtype int64 and shape (1, 1), expected integers of "
                                                f"shape (1, {H}, {W})"),
    ({**GOOD, "empty": [0]}, "gives empty of dtype int64 and shape (1,), expected booleans of shape (1,)"),
    ({**GOOD, "mask": np.full((1, H, W), 300).tolist()}, "gives mask values from 300 to 300, expected 0 to 1"),
    ({"empty": [True], "probability": GOOD["probability"]},
     "has no mask (it has empty, probability)"),
    ({**GOOD, "probability": [["x"]]}, "gives probability of dtype <U1 and shape (1, 1), expected numbers"),
    ({**GOOD, "score": [1.5]}, "gives score values from 1.5 to 1.5, expected 0 to 1"),
    ({**GOOD, "score": [0.5, 0.5]}, "gives score of dtype float64 and shape (2,), expected numbers of shape (1,)"),
])
def test_segment_answers_of_the_wrong_type_or_shape_name_the_server(fake, answer, message):
    """Before: `IndexError: invalid index to scalar variable.` deep in acga_tf/apps/predict.py, or int()'s message
    on 'garbage', naming no server."""
    url = fake.url("segment", {"segment_encoded": {"outputs": answer}})
    with pytest.raises(ValueError) as error:
        predict(url, moving_frames(3, H, W), QUERY)
    assert error_line(error).startswith(f"{url}: the answer to segment_encoded {message}")


def test_probabilities_and_describe_are_checked_against_the_request(fake):
    url = fake.url("probability", {"segment_encoded": {"outputs": {**GOOD, "probability": [[[0.5]]]}}})
    predictor = load_predictor(url)
    clips = np.stack([[predictor.prepare(frame) for frame in moving_frames(4, H, W)]])  # (1, T)
    assert predictor.segment(clips, [QUERY], H, W)["mask"].shape == (1, 1, H, W)  # no probability asked for
    with pytest.raises(ValueError) as error:
        predictor.segment(clips, [QUERY], H, W, probabilities=True)
    assert error_line(error).startswith(f"{url}: the answer to segment_encoded gives probability of dtype float64 "
                                        f"and shape (1, 1, 1), expected numbers of shape (1, {H}, {W})")
    with pytest.raises(ValueError) as error:  # two sentences, one answered
        predictor.describe([QUERY, "a blue square"])
    assert error_line(error).startswith(f"{url}: the answer to describe_queries gives words of dtype int64 and "
                                        "shape (1,), expected integers of shape (2,)")


def test_good_answers_give_masks(fake):
    """The checks refuse nothing TF Serving over an acga-tf SavedModel answers (JSON int64, float64, bool, str)."""
    mask = np.zeros((1, H, W), int)
    mask[0, 5:9, 7:20] = 1
    url = fake.url("good", {"segment_encoded": {"outputs": {**GOOD, "mask": mask.tolist(),
                                                                        "empty": [False]}}})
    result = predict(url, moving_frames(3, H, W), QUERY)
    assert result.masks.shape == (3, H, W) and result.masks[:, 5:9, 7:20].all() and result.masks.sum() == 3 * 4 * 13
    np.testing.assert_allclose(result.probabilities, 0.25)
    # An export before 2026-12-06 gives no score: none in the result or its JSON; a newer one's comes through
    assert result.scores is None and all("score" not in frame for frame in result.to_dict()["frames"])
    url = fake.url("scored", {"segment_encoded": {"outputs": {**GOOD, "score": [0.375]}}})
    result = predict(url, moving_frames(3, H, W), QUERY)
    assert result.scores.tolist() == [0.375] * 3 and [f["score"] for f in result.to_dict()["frames"]] == [0.375] * 3


def test_a_masks_json_of_a_model_without_scores_says_so(fake, tmp_path, caplog):
    """A data scientist's pipeline read each mask's "score" and got a KeyError from an export of 2026-12-05: nothing
    said the file had none."""
    from acga_tf.apps.predict import predict_to_files

    url = fake.url("unscored", {"segment_encoded": {"outputs": GOOD}})
    with caplog.at_level("WARNING"):
        predict_to_files(url, moving_frames(3, H, W), [QUERY], output_json=str(tmp_path / "masks.json"))
    assert f"{url} gives no scores (exported before 2026-12-06): the masks JSON has none; export the run again" in \
        caplog.text
    assert "score" not in json.loads((tmp_path / "masks.json").read_text())["frames"][0]["masks"][0]


def _png(image, **save) -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, **save)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("case", ["good", "bomb", "palette", "zero_one", "jpeg", "size", "not_base64"])
def test_png_masks_from_a_server_are_checked_before_they_are_decoded(fake, case):
    """A QA engineer's hostile server: a 140 kB PNG of 12000 x 12000 pixels was decoded (600 MB, Pillow's warning)
    before its size was refused; a palette PNG, a greyscale one of 0 and 1 or a JPEG were taken as masks."""
    from PIL import Image

    mask = np.zeros((H, W), np.uint8)
    mask[5:9, 7:20] = 255
    bomb = bytearray(base64.b64decode(_png(mask, format="PNG")))
    bomb[16:24] = (12000).to_bytes(4, "big") * 2  # IHDR's width and height, and its checksum
    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")
    palette = Image.fromarray(mask // 255, "P")
    palette.putpalette([0, 0, 0, 1, 1, 1] + [0] * 762)
    b64 = {"good": _png(mask, format="PNG"), "bomb": base64.b64encode(bytes(bomb)).decode(),
           "palette": _png(palette, format="PNG"), "zero_one": _png(mask // 255, format="PNG"),
           "jpeg": _png(mask, format="JPEG"), "size": _png(mask[:, :-1], format="PNG"), "not_base64": "!!!"}[case]
    metadata = {"metadata": {"signature_def": {"signature_def": {name: {} for name in SIGNATURES}}}}
    url = fake.url("png", {"metadata": metadata, "segment_encoded_png": {
        "outputs": {"mask_png_bytes": [{"b64": b64}], "empty": [False]}}})
    frames = moving_frames(3, H, W)
    predictor = load_predictor(url)
    if case == "good":
        masks = np.stack([item.masks for item in iter_masks(predictor, frames, [QUERY])])
        assert masks.shape == (3, 1, H, W) and (masks[:, 0] == mask // 255).all()
        return
    found = {"bomb": "a PNG image, mode L, 12000 x 12000 pixels", "palette": "a PNG image, mode P, 32 x 24 pixels",
             "zero_one": "values from 0 to 1", "jpeg": "a JPEG image, mode L, 32 x 24 pixels",
             "size": "a PNG image, mode L, 31 x 24 pixels"}.get(case)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning too
        with pytest.raises((ValueError, OSError)) as refused:
            list(iter_masks(predictor, frames, [QUERY]))
    expected = (f"{url}: the answer's output 'mask_png_bytes' is not a rectangular array of {{'b64': ...}} objects "
                "of standard base64" if case == "not_base64" else
                f"{url}: the answer to segment_encoded_png gives a mask_png_bytes that is {found}, expected a "
                "greyscale PNG of 0 and 255, 32 x 24 pixels: not an acga-tf SavedModel")
    assert error_line(refused).startswith(expected), error_line(refused)


def test_cli_predict_names_the_server_in_one_line(fake, tmp_path, capsys):
    url = fake.url("cli", {"segment_encoded": {"outputs": {**GOOD, "mask": [[1]]}}})
    video = write_video(tmp_path / "v.mp4", moving_frames(3, H, W), "libx264", "yuv420p")
    code = main(["predict", "--model", url, "--video", video, "--query", QUERY, "--output", str(tmp_path / "o.gif"),
                 "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err  # an answer of the wrong kind: no retry helps (69 is for those that may)
    assert err[0].startswith(f"acga predict: error: {url}: the answer to segment_encoded gives mask of dtype int64 "
                             "and shape (1, 1)"), err


def test_cli_predict_timeout_bounds_a_silent_server(fake, tmp_path, capsys):
    """`acga predict --timeout` (a URL's time for each whole answer; before, always 600 s)."""
    url = fake.url("silent", lambda handler, signature: fake.released.wait(30))
    video = write_video(tmp_path / "v.mp4", moving_frames(3, H, W), "libx264", "yuv420p")
    argv = ["predict", "--video", video, "--query", QUERY, "--output", str(tmp_path / "o.gif"), "--no-progress"]
    start = time.monotonic()
    assert main([*argv, "--model", url, "--timeout", "0.5"]) == 69  # EX_UNAVAILABLE: sending again may succeed
    assert time.monotonic() - start < 10
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {url}: no complete answer within "
                                               "0.5 s (the timeout)")
    for model, timeout, message in (
            (url, "-1", "--timeout -1.0: must be a positive number of seconds"),
            (str(tmp_path), "5", f"--timeout: {tmp_path} is not a TF Serving URL (http://... or grpc://...)")):
        assert main([*argv, "--model", model, "--timeout", timeout]) == 2
        assert capsys.readouterr().err.strip() == f"acga predict: error: {message}"


@pytest.fixture(scope="module")
def local_server(exported_run):
    """The in-process server over `exported_run`, loaded once for the module (a load takes about 3 s)."""
    from acga_tf.serving.client import LocalServer

    return LocalServer(exported_run)


# === The in-process server's answers to malformed bodies (a REST integrator's) ===
@pytest.mark.parametrize("body, message", [
    # before, each dropped the connection without an answer (an exception in `predict_json`)
    ('{"signature_name": "describe_queries", "instances": ["the red square"]}',
     "cannot be answered as rows: send 'inputs' (columnar), not 'instances'"),
    ('{"signature_name": "describe_queries", "inputs": {"queries": [{"b64": "abcde"}]}}',  # 5 characters: no bytes
     "input 'queries': a 'b64' value is not standard base64"),
    ('{"signature_name": "describe_queries", "inputs": {"queries": [{"b64": "_-8"}]}}',  # URL-safe
     "input 'queries': a 'b64' value is not standard base64"),
    ('{"signature_name": "describe_queries", "inputs": {"queries": [{"b64": 5}]}}',
     "input 'queries': a 'b64' value must be a base64 string, got int"),
    (b'{"signature_name": "describe_queries", "inputs": {"queries": ["\xff"]}}', "the body is not UTF-8 text"),
    ("[" * 100_000, "JSON parse error: arrays or objects nested too deep"),
    ('{"signature_name": ["x"], "inputs": {}}', "'signature_name' must be a string"),
    ("not json", "JSON parse error: Expecting value"),
    ('{"inputs": {"video": [[[[[0, 0, 0]]]], [[[[0, 0, 0], [0, 0, 0]]]]], "query": ["a", "b"]}}',
     "input 'video': not a rectangular array: its nested lists differ in length"),
    ('{"inputs": {"video": null, "query": ["a"]}}', "input 'video': expected uint8 numbers, got nulls or objects"),
    # as TF Serving reads JSON (json_tensor.cc): before, NumPy read true as 1 and 3.0 as 3 (a REST integrator's)
    ('{"inputs": {"video": [[[[[true, false, true]]]]], "query": ["a"]}}',
     "input 'video': JSON true/false is not uint8: send numbers"),
    ('{"inputs": {"video": [[[[[3.0, 0, 1]]]]], "query": ["a"]}}',
     "input 'video': JSON value is not uint8: some numbers are written as decimals; send integers (as 3, not 3.0)"),
    ('{"inputs": {"video": [[[[[0.5, 0, 1]]]]], "query": ["a"]}}',
     "input 'video': JSON value is not uint8: numbers such as 0.5 are written as decimals"),
    ('{"inputs": {"video": [[[[[18446744073709551616, 0, 1]]]]], "query": ["a"]}}',  # 2**64: "nulls or objects"
     "input 'video': values outside the uint8 range [0, 255]"),
])
def test_a_malformed_body_is_answered_with_an_error_not_a_dropped_connection(local_server, body, message):
    answer = local_server.predict_json(body)
    assert set(answer) == {"error"} and message in answer["error"], answer


def test_base64_is_read_as_tf_serving_reads_it(local_server):
    """A REST client developer's `base64` (GNU's, a line break every 76 characters) and unpadded text were refused;
    TF Serving's absl `Base64Unescape` skips whitespace and takes the padding as optional."""
    server = local_server
    for text in ("dGhlIHJlZA==", "dGhlIHJlZA", "dGhl\nIHJl\nZA==", "dGhlIHJlZA."):
        body = {"signature_name": "describe_queries", "inputs": {"queries": [{"b64": text}]}}
        assert server.predict_json(body)["outputs"]["words"] == [2], text  # "the red"


def test_the_stand_in_answers_only_the_version_it_serves(exported_run):
    """A REST integrator pinned `/versions/7`; the stand-in answered it as version 1 (TF Serving: 404)."""
    import urllib.error
    import urllib.request

    from tf_serving_stand_in import TFServingStandIn

    with TFServingStandIn(exported_run, "acga") as server:
        status = json.load(urllib.request.urlopen(f"{server.url}/versions/1"))
        assert status["model_version_status"][0]["version"] == "1"
        # the metadata in the protos' own field names, as TF Serving writes them (a client developer's JS read
        # `tensorShape` and `methodName` from the stand-in)
        png = json.load(urllib.request.urlopen(f"{server.url}/metadata"))["metadata"]["signature_def"][
            "signature_def"]["segment_encoded_png"]
        assert png["method_name"] == "tensorflow/serving/predict"
        assert png["inputs"]["frames"]["tensor_shape"] == {"dim": [], "unknown_rank": True}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/versions/7")
        assert refused.value.code == 404
