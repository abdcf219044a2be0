"""acga_tf/apps/app.py: `acga app`, the web page, driven in a real headless Chromium (Debian's package, through
Playwright): upload a test-written mp4, type a sentence, wait for the overlay, compare the downloaded masks with
`acga predict` on the same input; click a point for the attention figure; an empty sentence is shown as an error
on the page. `.ci/run` installs Chromium and the `[app]` extra."""

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image
from runs import QUERY, moving_frames, write_video

from acga_tf import cli
from acga_tf.apps.app import WebApp, build_page, request_line
from acga_tf.apps.predict import predict
from acga_tf.data.synthetic import write_example_video

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = os.environ.get("ACGA_APP_SCREENSHOT")  # where to save the README's screenshot (docs/images/app.png)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(run_dir, tmp_path_factory):
    """The page over the tiny run, served on a free local port: (app, url)."""
    pytest.importorskip("gradio", reason="gradio is not installed: the web page's tests need it (pip install -e "
                                         "'.[test]' or '.[app]')")
    app = WebApp(run_dir, work_dir=str(tmp_path_factory.mktemp("app")))
    page = build_page(app)
    port = _free_port()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[app.work_dir])
    yield app, f"http://127.0.0.1:{port}/"
    page.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium (apt-get install chromium), as .ci/run does")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: the web "
                                         "page's browser test needs it (pip install -e '.[test]')")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _read_masks(url: str) -> tuple[str, np.ndarray]:
    with urllib.request.urlopen(url, timeout=60) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    names = sorted(n for n in archive.namelist() if n.endswith(".png"))
    masks = np.stack([np.asarray(Image.open(archive.open(n))) > 0 for n in names])
    return archive.read("sentence.txt").decode().strip(), masks


def test_the_page_segments_an_uploaded_video_like_acga_predict(served, browser, run_dir, tmp_path):
    app, url = served
    video = str(tmp_path / "upload.mp4")
    write_example_video(video, seed=3)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url)
    page.locator("#video input[type=file]").set_input_files(video)
    page.locator("#video video").wait_for(timeout=60_000)  # the upload finished: the player shows it
    # the sentence with markup in it: the report shows it as typed (a reviewer's was a link, an image fetched from
    # elsewhere, bold)
    typed = QUERY.replace("jumping", "**jumping** <b>[on](#x)</b> $$x$$")
    page.locator("#sentences textarea").fill(typed)
    page.locator("#segment").click()
    link = page.locator("#masks a[href]").first
    link.wait_for(timeout=180_000)
    page.locator("#overlay video").wait_for(timeout=60_000)
    page.get_by_text("of the pixels on average").first.wait_for(timeout=30_000)  # the per-sentence report
    assert f"{typed}: covers" in page.locator("#report").inner_text()  # (its "1." an ordered list's)
    assert page.locator("#report em :is(strong, b, a, img, .katex)").count() == 0

    sentence, masks = _read_masks(link.evaluate("a => a.href"))
    expected = predict(run_dir, video, typed).masks > 0
    assert sentence == typed
    np.testing.assert_array_equal(masks, expected)

    page.locator("#frame img").click(position={"x": 60, "y": 50})  # a point: its attention figure appears
    page.locator("#attention img").wait_for(timeout=120_000)
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)

    page.locator("#sentences textarea").fill("?! ...")  # no word: the page says so, the server keeps running
    page.locator("#segment").click()
    page.get_by_text("has no word").first.wait_for(timeout=60_000)
    page.close()


def test_several_sentences_give_one_zip_each_and_the_json_equal_to_predict(served, run_dir, tmp_path):
    from acga_tf.ops import rle

    app, _ = served
    sentences = [QUERY, "a blue square walking"]
    overlay, files, frame, report, session = app.segment(app.example(), "\n".join(sentences))
    expected = predict(run_dir, app.example(), queries=sentences)
    zips, document = files[:-1], json.loads(open(files[-1]).read())
    assert os.path.getsize(overlay) > 0 and len(zips) == 2 and session.sentences == sentences
    assert os.path.basename(files[-1]) == "masks.json" and document["queries"] == sentences
    for k, result in enumerate(expected):  # the JSON: every sentence's masks, as COCO run-length encoding
        np.testing.assert_array_equal(np.stack([rle.decode(f["masks"][k]["rle"]) for f in document["frames"]]),
                                      result.masks)
    for path, result in zip(zips, expected):
        with open(path, "rb") as f:
            archive = zipfile.ZipFile(io.BytesIO(f.read()))
        masks = np.stack([np.asarray(Image.open(archive.open(n))) > 0
                          for n in sorted(n for n in archive.namelist() if n.endswith(".png"))])
        assert archive.read("sentence.txt").decode().strip() == result.query
        np.testing.assert_array_equal(masks, result.masks > 0)
    assert report.count("of the pixels on average") == 2 and frame.shape == expected[0].masks.shape[1:] + (3,)


def test_the_pages_api_segments_a_still_image_as_acga_predict_does(served, run_dir, tmp_path):
    """A tester's: the page's upload takes videos alone, but a `gradio_client` call sends any file: a still PNG is
    segmented, one frame, as `acga predict` segments it (docs/serving.md says so)."""
    app, _ = served
    still = tmp_path / "still.png"
    Image.fromarray(moving_frames(1, 48, 64)[0]).save(still)
    overlay, files, frame, report, session = app.segment(str(still), QUERY)
    (expected,) = predict(run_dir, str(still), queries=[QUERY])
    assert expected.masks.shape[0] == 1 and frame.shape == expected.masks.shape[1:] + (3,)
    document = json.loads(open(files[-1]).read())
    assert len(document["frames"]) == 1 and os.path.getsize(overlay) > 0


def test_an_anamorphic_videos_middle_frame_is_shown_as_players_show_it(served, tmp_path):
    # 4:3 pixels, 48 x 60 stored and shown 48 x 80: the page's frame and its clicks are in square pixels, as the
    # attention figure is; the masks keep the stored size, as `acga predict` writes them.
    import fractions

    app, _ = served
    path = write_video(tmp_path / "hdv.mp4", moving_frames(10, 48, 60, seed=6), "libx264", "yuv420p",
                       sample_aspect=fractions.Fraction(4, 3))
    _, zips, frame, _, session = app.segment(path, QUERY)
    assert frame.shape == (48, 80, 3)
    with zipfile.ZipFile(zips[0]) as archive:
        assert np.asarray(Image.open(archive.open("00001.png"))).shape == (48, 60)
    assert os.path.getsize(app.attention(session, (75.0, 40.0))) > 0  # a point right of the stored width


def test_actions_refuse_bad_input_with_a_message(served, tmp_path):
    app, _ = served
    with pytest.raises(ValueError, match="upload a video first"):
        app.segment(None, QUERY)
    with pytest.raises(ValueError, match="at least one sentence"):
        app.segment(app.example(), "  \n ")
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 20)
    with pytest.raises(ValueError, match="notes.txt"):
        app.segment(str(text), QUERY)
    with pytest.raises(ValueError, match="segment a video first"):
        app.attention(None, (1.0, 1.0))


def test_the_visitors_sentences_stay_out_of_the_servers_log(served, tmp_path, caplog):
    """A security reviewer's: the log held the sentences the docs said it did not (a refusal's message, the warnings
    of unknown words and of a long sentence), and a file name's right-to-left override turned the log line around.
    Now the warnings are the visitor's, on the page; the log says how many, a refusal names "sentence k"."""
    app, _ = served
    video = tmp_path / "clip\u202emp4.mp4"  # U+202E: what follows shows right to left on a terminal
    write_video(str(video), moving_frames(6, 32, 48), "libx264", "yuv420p")
    caplog.set_level("INFO")
    secret = "the red circle zorbling quietly"  # "zorbling", "quietly": not in the run's words
    *_, report, _ = app.segment(str(video), f"{QUERY}\n{secret}")
    report = re.sub(r"\\(.)", r"\1", report)  # (the page's Markdown escapes: the text as shown)
    assert "Note: query 'the red circle zorbling quietly': words not in the model's vocabulary" in report, report
    assert app.work_dir not in report  # the visitor's notes name no server path (a reviewer's: a damaged upload's did)
    with pytest.raises(ValueError, match="has no known word"):
        app.segment(str(video), "zorbling quietly xyzzy")
    with pytest.raises(ValueError, match="has no known word"):  # accents typed apart (a Mac's): composed, then quoted
        app.segment(str(video), "Ame\u0301lie zorbling")
    with pytest.raises(ValueError, match=r"knows only 'the' of it.*\(zorbling, xyzzy are not in its vocabulary\)"):
        app.segment(str(video), "the zorbling xyzzy")  # on the page, the words it lacks; in the log, not (a reviewer's)
    with pytest.raises(ValueError, match=r"\(circel is not in its vocabulary\), so the mask would ignore the sentence; "
                                         r"did you mean 'circle' for 'circel'\?"):  # a mistyped word: the known one
        app.segment(str(video), "the circel")
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "zorbling" not in log and "xyzzy" not in log and "\u202e" not in log and "lie" not in log, log
    assert "circel" not in log and "(words not in its vocabulary), so the mask would ignore the sentence; (words " \
                                   "suggested)" in log, log
    lines = [r.getMessage() for r in caplog.records if r.name == "acga_tf.apps.app"]
    # the operator's notes, those that quote no sentence: the legend cut to a line on a 32-pixel-high frame
    assert any(re.search(r"request \d+: the overlay's legend cuts sentences 1, 2 to a line", line) for line in lines)
    done = [line for line in lines if "2 sentences, 6 frames" in line]
    assert re.search(r"request \d+: clipU\+202Emp4\.mp4, 2 sentences, 6 frames, [\d.]+ s: done \(\d notes? shown\)$",
                     done[0]), lines
    assert re.search(r"1 sentence, 0 frames, [\d.]+ s: refused: sentence 1 has no known word", lines[-4]), lines
    assert re.search(r"1 sentence, 0 frames, [\d.]+ s: refused: sentence 1 has no known word", lines[-3]), lines
    assert re.search(r"1 sentence, 0 frames, [\d.]+ s: refused: sentence 1: the model knows only 'the' of it, a word "
                     r"naming no actor \(words not in its vocabulary\)", lines[-2]), lines
    caplog.clear()
    predict(app.predictor, moving_frames(6, 32, 48), secret)  # outside a page request: logged as before
    assert "zorbling" in caplog.text


def test_a_refusal_in_the_log_names_sentences_by_number_and_leaves_the_rest_of_its_words():
    """A QA tester's sentences "the" and "e" were replaced in every word of the log's line ("ssentence 1ntsentence
    1nc..."): only the quoted sentences are."""
    from acga_tf.apps.app import without_sentences

    message = "query 'e' has no known word: none of its words is in the vocabulary of the model"
    assert without_sentences(message, "the\ne") == ("sentence 2 has no known word: none of its words is in the "
                                                     "vocabulary of the model")
    assert without_sentences("query 'the  red' is too long", "the  red") == "sentence 1 is too long"


def test_cli_app_without_gradio_says_how_to_install(run_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` then fails as when it is not installed
    assert cli.main(["app", "--model", run_dir]) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[app]" in the acga-tf checkout' in err and "Traceback" not in err


def test_cli_app_with_a_model_that_does_not_load_says_only_that(tmp_path, capsys):
    """Before: "serving ... (Ctrl+C stops it)" on stdout, then the error."""
    pytest.importorskip("gradio", reason="gradio is not installed: the web page's tests need it")
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["app", "--model", str(tmp_path / "nope"), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"acga app: error: {tmp_path / 'nope'}: not found"), (out, err)


def test_cli_app_with_a_gradio_too_old_says_how_to_upgrade(run_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", types.SimpleNamespace(__version__="5.0.2"))  # did not start here
    assert cli.main(["app", "--model", run_dir]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("acga app: error: the web page needs Gradio 5.50 or newer, found 5.0.2: pip install -U "
                           '"gradio>=5.50"'), err


def test_an_address_the_page_cannot_listen_on_is_one_line_before_the_model_loads(run_dir, monkeypatch, capsys):
    from acga_tf.apps import app as app_module

    monkeypatch.setattr(app_module, "WebApp", lambda *a, **k: pytest.fail("the model was loaded"))
    with socket.socket() as busy:  # Gradio's own message named its `launch()` parameter; 99999 was a traceback
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for value, expected in (
                (str(port), f"127.0.0.1:{port}: cannot listen there (Address already in use); choose another --port "
                            "or --host"),
                ("99999", "port 99999: expected 1 to 65535 (--port)")):
            assert cli.main(["app", "--model", run_dir, "--port", value]) == 2
            out, err = capsys.readouterr()
            assert (out, err) == ("", f"acga app: error: {expected}\n")


def test_the_address_printed_is_one_a_browser_opens(run_dir, monkeypatch, capsys):
    """`acga app --host 0.0.0.0` printed http://0.0.0.0:7860/, which most browsers do not open: localhost, with the
    machine's name for other machines; an IPv6 address in brackets."""
    from acga_tf.apps.app import page_address

    def fake_serve(model, *, ready, **kwargs):
        ready()

    monkeypatch.setattr(cli, "serve", fake_serve)
    monkeypatch.setattr(cli, "check_address", lambda host, port: None)
    assert cli.main(["app", "--model", run_dir, "--host", "0.0.0.0", "--port", "7861"]) == 0
    out = capsys.readouterr().out
    assert out == (f"serving {run_dir} at http://localhost:7861/ (from other machines: "
                   f"http://{socket.gethostname()}:7861/) (Ctrl+C stops it)\n")
    assert page_address("127.0.0.1", 7860) == "http://127.0.0.1:7860/"
    assert page_address("::1", 7860) == "http://[::1]:7860/"
    for wildcard in ("::", "::0", "0:0:0:0:0:0:0:0", "0", "0.0", "0x0", ""):  # (every spelling that binds
        # everywhere: reviewers')
        assert page_address(wildcard, 80).startswith("http://localhost:80/ (from other machines: "), wildcard


def test_the_command_line_loads_without_gradio():
    # Gradio is imported when the page is built: importing it took 3.8 s that every `acga` command paid
    code = "import sys, acga_tf.cli; print('gradio' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_an_uploads_error_does_not_say_where_gradio_keeps_it(served, tmp_path, capfd):
    """The page's error named the full path of the upload's copy in Gradio's cache (the server's folders). Now the page
    names the upload's file name alone. (gradio_client uploads a file it is given by path before the request, so
    this is an upload's error; Gradio refuses a raw request naming a server file that was not uploaded: a
    reviewer's, by HTTP.)"""
    gradio_client = pytest.importorskip("gradio_client")
    app, url = served
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's secret\n" * 10)
    client = gradio_client.Client(url, verbose=False, download_files=False)
    with pytest.raises(Exception) as e:  # Gradio's client raises its AppError with the page's message
        client.predict({"path": str(secret), "meta": {"_type": "gradio.FileData"}}, QUERY, api_name="/segment")
    message = str(e.value)
    assert message.startswith("secret.txt: not a video FFmpeg can read") and "/" not in message, message
    # Gradio renders the message as HTML: a sentence quoted in it is escaped (Gradio strips < and > from file names)
    with pytest.raises(Exception) as e:
        client.predict({"path": app.example(), "meta": {"_type": "gradio.FileData"}}, "<img src=x onerror=alert(1)>",
                       api_name="/segment")
    assert "&lt;img src=x onerror=alert(1)&gt;" in str(e.value) and "<img" not in str(e.value), str(e.value)
    # and the visitor's mistakes are no tracebacks in the server's log
    assert "Traceback" not in capfd.readouterr().err


def test_page_messages_name_the_upload_and_not_the_servers_folders(tmp_path):
    from acga_tf.apps.app import page_message
    from acga_tf.data.types import DataError

    upload = str(tmp_path / "gradio" / "0123abcd" / "clip.mp4")
    work = str(tmp_path / "acga-app-x")
    written = os.path.join(work, "run-0001", "overlay.mp4")
    error = DataError(upload, f"cannot decode the video; after 3 frames; {written} was not written")
    assert page_message(error, upload, work) == ("clip.mp4: cannot decode the video; after 3 frames; "
                                                 + os.path.join("run-0001", "overlay.mp4") + " was not written")


def test_a_video_longer_than_the_page_takes_is_refused_or_stopped(served, monkeypatch):
    """One visitor's video of 50,000 frames held the page (one request at a time) for 28 minutes: a video of more
    frames than `--max-frames` is refused from its declared count, and one that declares none is stopped there."""
    from acga_tf.apps import app as app_module

    app, _ = served
    monkeypatch.setattr(app, "max_frames", 5)
    example = app.example()
    with pytest.raises(ValueError, match=r"example\.mp4: the video has \d+ frames; this page segments at most 5 "
                                         r"\(acga app --max-frames"):
        app.segment(example, QUERY)
    from acga_tf.apps.predict import VideoInfo

    monkeypatch.setattr(app_module, "video_info", lambda path: VideoInfo())  # a container that declares
    with pytest.raises(ValueError, match=r"example\.mp4: stopped after 5 frames, the most this page segments"):
        app.segment(example, QUERY)  # no count


def test_frames_larger_than_the_page_takes_are_refused_from_the_header(served, monkeypatch, capsys):
    """A security reviewer's 100 KB upload of an 8K video held 3.8 GB of the server's memory: the page takes frames of
    at most `--max-pixels` (4K UHD by default), read from the container's header before anything is decoded."""
    from acga_tf.apps import app as app_module

    app, _ = served
    assert app.max_pixels == 3840 * 2160
    monkeypatch.setattr(app, "max_pixels", 208 * 160 - 1)  # the example's 208 x 160, one pixel over
    decoded = []
    monkeypatch.setattr(app_module, "predict_to_files", lambda *a, **k: decoded.append(a))
    with pytest.raises(ValueError, match=r"^example\.mp4: the video's frames are 208 x 160 pixels; this page segments "
                                         r"frames of at most 33,279 pixels \(acga app --max-pixels; or scale it down "
                                         r"first\)$"):
        app.segment(app.example(), QUERY)
    assert decoded == []
    assert cli.main(["app", "--model", "no-such-run", "--max-pixels", "-1"]) == 2
    assert "--max-pixels -1: expected 0 or more pixels" in capsys.readouterr().err
    for option, value, expected in (("--max-frames", "-5", "--max-frames -5: expected 0 or more frames (0: no limit)"),
                                    ("--max-upload-mb", "0", "--max-upload-mb 0: expected at least 1 MB")):
        assert cli.main(["app", "--model", "no-such-run", option, value]) == 2  # (one line named both limits)
        assert capsys.readouterr().err == f"acga app: error: {expected}\n"


def test_more_sentences_than_the_page_takes_are_refused_before_the_video_is_read(served, monkeypatch, capsys):
    """A reviewer's 200 lines of sentences held 4 GB more of the server (about 20 MB each): a request takes at most
    `--max-sentences` (the overlay's seven colours by default)."""
    from acga_tf.apps import app as app_module

    app, _ = served
    assert app.max_sentences == 7
    read = []
    monkeypatch.setattr(app_module, "video_info", lambda path: read.append(path))
    with pytest.raises(ValueError, match=r"^8 sentences: this page segments at most 7 at once, one colour each \(acga "
                                         r"app --max-sentences\)$"):
        app.segment(app.example(), "\n".join([QUERY] * 8))
    assert read == []
    assert cli.main(["app", "--model", "no-such-run", "--max-sentences", "-1"]) == 2
    assert "--max-sentences -1: expected 0 or more sentences a request (0: no limit)" in capsys.readouterr().err


def test_a_page_over_an_export_says_it_draws_no_attention_without_its_path(exported_run, tmp_path, caplog):
    """A reviewer's click on the middle frame of a page over a SavedModel showed the model's server path; a server's
    stop (Ctrl-C) was logged as the visitor's."""
    pytest.importorskip("gradio", reason="gradio is not installed: the web page's tests need it")
    from acga_tf.apps.app import RequestCancelled, _Session

    app = WebApp(exported_run, work_dir=str(tmp_path / "page"))
    with pytest.raises(ValueError) as refused:
        app.attention(_Session(app.example(), [QUERY], 3), (10.0, 10.0))
    assert str(refused.value) == ("this page's model is exported or served: attention figures need a Keras model "
                                  "(acga app --model with a run directory or a .keras file)")
    config = build_page(app).get_config_file()
    (frame,) = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "frame"]
    assert frame["props"]["label"].startswith("middle frame (attention figures need a run's Keras model")
    caplog.set_level("INFO", logger="acga_tf.apps.app")
    app.stopping.set()
    with pytest.raises(RequestCancelled):
        app.segment(app.example(), QUERY, cancelled=lambda: True)
    assert caplog.records[-1].getMessage().endswith(": stopped: the server is stopping"), caplog.text


def test_the_page_sees_a_ctrl_c_that_the_commands_handler_takes():
    """A reviewer's Ctrl-C on `acga app`: the command's own `sigterm_as_interrupt` (cli.main's) takes SIGINT, the
    page's nested one does not, so the page's running request was logged "stopped by the visitor" (SIGTERM was
    right). `serve` notes every stop in the page's event before the command's handler takes it."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from acga_tf.ops.errors import noting_stops, sigterm_as_interrupt  # noqa: PLC0415

    for signum in (signal.SIGINT, signal.SIGTERM):
        stopping = threading.Event()
        with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():  # the command's (cli.main)
            with sigterm_as_interrupt(), noting_stops(stopping):  # serve's
                signal.raise_signal(signum)
        assert stopping.is_set(), signum


def test_outputs_older_than_an_hour_are_removed_when_a_request_comes(served, tmp_path):
    app, _ = served
    old, new = os.path.join(app.work_dir, "run-9998"), os.path.join(app.work_dir, "run-9999")
    figure, mine = os.path.join(app.work_dir, "attention-9998.png"), os.path.join(app.work_dir, "example.mp4")
    for folder in (old, new):
        os.makedirs(os.path.join(folder, "masks"))
    open(figure, "wb").close()
    app.example()
    hour_ago = os.path.getmtime(new) - app.keep_outputs_s - 1
    for path in (old, figure, mine):
        os.utime(path, (hour_ago, hour_ago))
    app._remove_old_outputs()
    assert not os.path.exists(old) and not os.path.exists(figure)
    assert os.path.isdir(new) and os.path.exists(mine)  # a recent run, and the example (not an output), are kept


@pytest.mark.parametrize("how", ["stop", "leave"])
def test_a_request_stopped_or_left_ends_at_once_and_leaves_nothing(served, browser, tmp_path, caplog, how):
    """Gradio stops waiting for a request whose visitor presses Stop (gradio_client's `cancel()` asks the same) or
    leaves the page, but not the thread that runs it: such a request ran to its end (142 s measured on a long video),
    and the next visitor waited for it. Now the request stops after the frames being written, its outputs are removed,
    and the log says so; the page's lock is free for the next visitor at once."""
    gradio_client = pytest.importorskip("gradio_client")
    app, url = served
    video = str(tmp_path / "long.mp4")
    write_video(video, moving_frames(3000, 64, 64), "libx264", "yuv420p")
    caplog.set_level("INFO", logger="acga_tf.apps.app")
    before = set(os.listdir(app.work_dir))
    if how == "stop":
        client = gradio_client.Client(url, verbose=False, download_files=False)
        job = client.submit({"path": video, "meta": {"_type": "gradio.FileData"}}, QUERY, api_name="/segment")
    else:
        page = browser.new_page()
        page.goto(url)
        page.locator("#video input[type=file]").set_input_files(video)
        page.locator("#video video").wait_for(timeout=60_000)
        page.locator("#sentences textarea").fill(QUERY)
        page.locator("#segment").click()
    def new_runs():  # this request's folder, once it holds a mask (earlier tests' folders are in `before`)
        return [os.path.join(app.work_dir, name) for name in set(os.listdir(app.work_dir)) - before
                if name.startswith("run-") and any(n.endswith(".png") for _, _, names in
                                                   os.walk(os.path.join(app.work_dir, name)) for n in names)]

    deadline = time.monotonic() + 180
    while not new_runs():
        assert time.monotonic() < deadline, "the request wrote no mask in 180 s"
        time.sleep(0.2)
    (run,) = new_runs()
    if how == "stop":
        page = None
        assert job.cancel()
    else:
        page.locator("#stop").wait_for()  # the page has a Stop button; the visitor closes the tab instead
        page.close()
    stopped = time.monotonic()
    assert app.lock.acquire(timeout=60), "the request kept the page busy"
    app.lock.release()
    waited = time.monotonic() - stopped
    assert not os.path.exists(run)
    lines = [r.getMessage() for r in caplog.records if r.name == "acga_tf.apps.app"]
    assert any(re.search(r"request \d+: long\.mp4, 1 sentence, \d+ frames, [\d.]+ s: stopped by the visitor$", line)
               for line in lines), lines
    frames = int(re.search(r"(\d+) frames", lines[-1]).group(1))
    assert frames < 3000 and waited < 30, (frames, waited)


def test_serving_beyond_this_machine_is_warned_about(run_dir, monkeypatch, caplog):
    pytest.importorskip("gradio", reason="gradio is not installed: the web page's tests need it")
    from acga_tf.apps import app as app_module

    class Loaded(Exception):
        pass

    def stop(*args, **kwargs):
        raise Loaded

    monkeypatch.setattr(app_module, "WebApp", stop)
    with caplog.at_level("WARNING"), pytest.raises(Loaded):
        app_module.serve(run_dir, host="0.0.0.0", port=_free_port())
    assert "listening on 0.0.0.0: anyone who can reach it can run the model" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"), pytest.raises(Loaded):
        app_module.serve(run_dir, host="127.0.0.1", port=_free_port())
    assert "listening on" not in caplog.text


def test_a_stop_in_a_nested_block_is_the_outer_blocks_too():
    """A diff reviewer's: a SIGTERM caught inside a nested `sigterm_as_interrupt` set the outer block's event, but the
    inner block's end cleared the flag `check_stop` reads: the outer loop went on."""
    from acga_tf.ops.errors import check_stop, sigterm_as_interrupt

    with sigterm_as_interrupt() as outer:
        with sigterm_as_interrupt() as inner:
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
                time.sleep(10)  # (the handler raises at once: this only waits for it where it would not)
        assert inner.signum == outer.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            check_stop()
    check_stop()  # (the outermost block's end clears it)


def test_a_stop_of_the_page_is_the_commands_stop(run_dir, monkeypatch):
    """A command-line reviewer's: Gradio takes the KeyboardInterrupt of a stop and returns, so `acga app` stopped by
    SIGTERM (or Ctrl-C, SIGHUP) ended with status 0 and no line, or as "interrupted" (the command's own handler never
    saw which signal came). `serve` raises the stop once the page is closed, and the command's block learns the
    signal."""
    from acga_tf.apps import app as app_module
    from acga_tf.ops.errors import sigterm_as_interrupt

    class Page:  # what Gradio's launch does with a stop: closes the server, returns
        closed = False

        def launch(self, **kwargs):
            try:
                signal.raise_signal(signal.SIGTERM)
                time.sleep(10)
            except KeyboardInterrupt:
                pass

        def close(self):
            Page.closed = True

    monkeypatch.setattr(app_module, "build_page", lambda app: Page())
    with sigterm_as_interrupt() as command, pytest.raises(KeyboardInterrupt, match="the page is closed and its "
                                                                                   "visitors' files are removed"):
        app_module.serve(run_dir, port=_free_port())
    assert command.signum == signal.SIGTERM and Page.closed


@pytest.mark.slow  # (22 s in the suite): the default suite stops `acga predict` by SIGTERM (tests/reliability) and the
# page's jobs by its Stop
def test_acga_app_stopped_by_sigterm_leaves_nothing_of_its_visitors(run_dir, tmp_path):
    """`kill`, `docker stop` and `systemctl stop` send SIGTERM. Before: Python ended at once, and the page's folder
    (the visitors' outputs) and Gradio's cache in the shared /tmp/gradio (their uploads) stayed on the disk; that
    /tmp/gradio, owned by the first user who ran a page, also failed every upload of another user's page. Now the
    page's folder holds Gradio's cache too, and SIGTERM stops the page as Ctrl-C does, removing it."""
    gradio_client = pytest.importorskip("gradio_client")
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"} | {"TMPDIR": str(temp)}
    proc = subprocess.Popen([sys.executable, "-m", "acga_tf.cli", "app", "--model", run_dir, "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):  # the model loads, then the page listens
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        client = gradio_client.Client(url, verbose=False, download_files=False)
        example = client.predict(api_name="/example")  # Gradio copies the example video into its cache
        client.predict(example, QUERY, api_name="/segment")
        left = [str(p.relative_to(temp)) for p in temp.rglob("*")]
        assert any(name.endswith("example.mp4") for name in left) and all(
            name.startswith("acga-app-") for name in left), left
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    # ended by the signal, as every command (it ended with status 0, without a word: a command-line reviewer's)
    assert proc.returncode == -signal.SIGTERM, output
    assert output.endswith("acga app: terminated: the page is closed and its visitors' files are removed\n"), output
    assert "Traceback" not in output, output
    line = r"\d\d:\d\d:\d\d request 1: example\.mp4, 1 sentence, \d+ frames, [\d.]+ s: done\n"
    assert re.search(line, output), output
    assert list(temp.iterdir()) == []


def test_every_refused_sentence_is_named_at_once(served):
    """A web-page tester typed three sentences the model could not read (French, Japanese, one with a balloon): the
    page named the first alone, then the next after each fix. Now each refusal is in the one message."""
    app, _ = served
    with pytest.raises(ValueError) as refused:
        app.segment(app.example(), f"le cercle rouge\n{QUERY}\nzebra xylophone")
    message = str(refused.value)
    assert message.startswith("2 of the 3 sentences cannot be segmented: query 'le cercle rouge' has no known word")
    assert "; query 'zebra xylophone' has no known word" in message


def test_the_page_keeps_its_errors_and_clears_a_videos_results_when_another_comes(served):
    """A web-page tester: an error's message went after 10 s (the panels kept an "Error" badge without a word), and
    the last clip's overlay, masks and middle frame stayed beside the next video, ready to be downloaded as its own."""
    app, _ = served
    page = build_page(app)
    config = page.get_config_file()
    ids = {c["props"]["elem_id"]: c["id"] for c in config["components"] if c.get("props", {}).get("elem_id")}
    changes = [d for d in config["dependencies"] if [ids["video"], "change"] in [list(t) for t in d["targets"]]]
    assert len(changes) == 1
    assert {ids[name] for name in ("overlay", "masks", "frame", "report", "attention")} <= set(changes[0]["outputs"])
    segment = next(fn for fn in page.fns.values() if fn.name == "segment").fn
    with pytest.raises(Exception) as shown:
        segment(None, QUERY)
    assert getattr(shown.value, "duration", 10) is None and "upload a video first" in str(shown.value)


def test_the_log_counts_one_frame_in_the_singular():
    """A tester's: a one-frame video's request was logged "1 frames" (and the model's one word "1 words")."""
    from acga_tf.data.video import window_bounds  # noqa: PLC0415

    assert re.fullmatch(r"\S+ \S+ request 3: v\.mp4, 1 sentence, 1 frame, 0\.5 s: done",
                        request_line(3, "v.mp4", "the dog", 1, 0.5, "done"))
    assert ", 2 sentences, 2 frames, " in request_line(3, "v.mp4", "a\nb", 2, 0.5, "done")
    with pytest.raises(ValueError, match=r"^center 1 is outside the video's 1 frame$"):
        window_bounds(1, 16, 1)
