"""`acga app`: a local web page to try a trained model on your own video (docs/serving.md#web-page).

Upload a video (or take the built-in synthetic example), type one sentence per line, and get the overlay video
(one colour per sentence, with a legend), each sentence's masks as a zip of PNGs, and, for a point clicked on the
middle frame, the attention figure of the first sentence. The page runs the same prediction as `acga predict`
(`acga_tf.apps.predict`); mistakes (no video, an unreadable file, an empty sentence) are shown on the page.

Needs the optional [app] extra (Gradio, the toolkit of the field's demo pages; README Install).
"""

import contextlib
import dataclasses
import html
import ipaddress
import itertools
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import weakref
import zipfile
from collections.abc import Callable

from acga_tf.apps.defaults import MAX_FRAMES, MAX_PIXELS, MAX_SENTENCES, MAX_UPLOAD_MB
from acga_tf.apps.predict import predict_to_files, quoted, square_pixels, video_info
from acga_tf.apps.predictors import KerasPredictor, load_predictor
from acga_tf.apps.visualize import attention_figure, attention_model, compute_attention, save_figure
from acga_tf.data.synthetic import write_example_video
from acga_tf.data.text import compose
from acga_tf.data.video import iter_video_frames
from acga_tf.ops.errors import noting_stops, sigterm_as_interrupt
from acga_tf.ops.extras import install_hint
from acga_tf.ops.wording import counted

logger = logging.getLogger(__name__)

# The oldest Gradio the page is tested with; 5.0.2 and 4.44.1 (with huggingface-hub < 1) did not start on the
# development host: "When localhost is not accessible, a shareable link must be created" (measured 2026-12-03).
GRADIO_MIN = (5, 50)
TITLE = "ACGA: segment the actor a sentence describes"
# What one visitor may ask of the page (it serves one request at a time) is bounded by `MAX_FRAMES`, `MAX_UPLOAD_MB`,
# `MAX_SENTENCES` and `MAX_PIXELS` (apps/defaults.py); outputs are kept an hour, in the page's folder and in Gradio's
# cache (deleted every 10 minutes once they are an hour old).
KEEP_OUTPUTS_S = 3600
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _gradio():
    """Gradio, imported when the page is built: importing it takes seconds (3.8 s measured on a 2-core CPU), which
    every other `acga` command would pay too, since the command line imports this module."""
    try:
        import gradio
    except ImportError:  # the optional [app] extra
        raise ImportError(f"the web page needs Gradio: {install_hint('app')}") from None
    found = tuple(int(part) for part in re.findall(r"\d+", gradio.__version__)[:2])
    if found < GRADIO_MIN:
        wanted = ".".join(map(str, GRADIO_MIN))
        raise ImportError(f"the web page needs Gradio {wanted} or newer, found {gradio.__version__}: pip install -U "
                          f'"gradio>={wanted}"')
    return gradio


@dataclasses.dataclass
class _Session:
    """What one segmentation left for the attention click: the video file, its sentences and middle frame."""

    video: str
    sentences: list[str]
    frame: int


class RequestCancelled(Exception):
    """The visitor stopped the request (the Stop button) or left the page while it ran."""


class _VisitorNotes(logging.Filter):
    """Keeps what acga-tf logs at WARNING and above while a page request runs in this thread (the words of a visitor's
    sentence the model does not know, a sentence cut to L words, a one-frame video) with the request, whose report
    shows them without the server's paths; `WebApp.segment` logs again those that quote no sentence: the log is the
    operator's, the sentences the visitor's (docs/serving.md#web-page). A filter of each acga_tf logger (`install`),
    so it works whatever handlers the process has; outside a request, or in another thread, records pass as before."""

    def __init__(self):
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        notes = getattr(self.local, "notes", None)
        if notes is None or record.levelno < logging.WARNING:
            return True
        notes.append(record.getMessage())
        return False

    def install(self) -> None:
        """On every acga_tf logger there is (all are made as their modules are imported, before a page starts)."""
        for name, item in list(logging.Logger.manager.loggerDict.items()):
            if isinstance(item, logging.Logger) and (name == "acga_tf" or name.startswith("acga_tf.")):
                item.addFilter(self)  # (once: a filter already there is not added again)

    @contextlib.contextmanager
    def collect(self):
        """Within it, this thread's records are kept in the list it yields."""
        self.local.notes = notes = []
        try:
            yield notes
        finally:
            self.local.notes = None


_NOTES = _VisitorNotes()


def without_sentences(message: str, text: str | None) -> str:
    """`message` with each of the visitor's sentences (each line of `text`, as messages quote it: `quoted`, `repr`)
    replaced by "sentence k", and the words of them the model lacks (and those suggested) left unnamed, for the log
    (`request_line`). Quoted forms only: a sentence "e" is not every letter e of the message."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    forms = []
    for k, line in enumerate(lines, 1):
        normal = " ".join(compose(line).split())  # as `check_query` gives it: accents composed (a Mac's typed apart)
        shown = {quoted(line), repr(line), quoted(normal), repr(normal)}  # as messages quote it: "query '...'"
        forms += [(form, f"sentence {k}") for form in {*(f"query {q}" for q in shown), *shown}]
    for form, name in sorted(forms, key=lambda item: -len(item[0])):  # the longest first: a quoted form whole
        message = message.replace(form, name)
    # the words of a sentence the model lacks, named by a refusal of one that knows only words naming no actor (a
    # reviewer's log held them); each a word of letters and digits (tokens), so no parenthesis is in the list
    message = re.sub(r" \([^()]* (?:is|are) not in its vocabulary\)", " (words not in its vocabulary)", message)
    # and the known words suggested for them (`suggested_words`: "did you mean 'circle' for 'circel'?"), tokens too
    return re.sub(r"; did you mean [^?]*\?", "; (words suggested)", message)


def _sentences(text: str | None, most: int = 0) -> list[str]:
    """One sentence per non-empty line (`predict_to_files` checks each before any frame is read), `most` at most (0:
    no limit)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ValueError("type at least one sentence (one per line)")
    if most and len(lines) > most:
        raise ValueError(f"{len(lines)} sentences: this page segments at most {most} at once, one colour each (acga "
                         "app --max-sentences)")
    return lines


class WebApp:
    """The page's actions over one loaded model (usable without a browser: the tests call them directly too).
    Requests are served one at a time (each one keeps every core busy).

    Args:
        model: any artifact `acga predict` takes (a run directory, a `.keras` file, a SavedModel folder or a TF
            Serving URL); the attention figure needs a Keras model (a run or a `.keras` file).
        work_dir: where outputs are written (default: a new temporary folder, removed when the app is).
        max_frames: the most frames a video may have (0: no limit).
        max_pixels: the most pixels a frame may have, width × height as stored (0: the reader's bound, 8K UHD).
        max_sentences: the most sentences a request may have (0: no limit).
        keep_outputs_s: a request's outputs older than this are removed when a new request comes.
    """

    def __init__(self, model: str, work_dir: str | None = None, *, max_frames: int = MAX_FRAMES,
                 keep_outputs_s: float = KEEP_OUTPUTS_S, max_pixels: int = MAX_PIXELS,
                 max_sentences: int = MAX_SENTENCES):
        self.predictor = load_predictor(model)
        self.trained = None
        if isinstance(self.predictor, KerasPredictor):  # the attention twin, built once
            trained = self.predictor.trained
            self.trained = dataclasses.replace(trained, model=attention_model(trained.model))
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="acga-app-")
            weakref.finalize(self, shutil.rmtree, work_dir, ignore_errors=True)  # also at the interpreter's exit
        os.makedirs(work_dir, exist_ok=True)
        self.work_dir = work_dir
        self.max_frames, self.keep_outputs_s, self.max_pixels = max_frames, keep_outputs_s, max_pixels
        self.max_sentences = max_sentences
        self.stopping = threading.Event()  # set when the server stops (Ctrl-C, SIGTERM): its requests are not stopped
        # by their visitors
        self.runs = 0
        self._requests = itertools.count(1)
        self.lock = threading.Lock()
        _NOTES.install()

    def example(self) -> str:
        """A built-in synthetic example video (written once)."""
        path = os.path.join(self.work_dir, "example.mp4")
        with self.lock:
            if not os.path.exists(path):
                write_example_video(path)
        return path

    def segment(self, video: str | None, text: str | None, progress=None,
                cancelled: Callable[[], bool] | None = None):
        """`acga predict` on the page's input: `(overlay mp4, [mask zip per sentence, masks.json], middle frame, report,
        session)`. `cancelled` is asked after every frame: once it says True, the request stops there and its
        outputs are removed (`RequestCancelled`). Each request ends with one line in the log (`request_line`).

        Raises:
            ValueError: the user's mistakes (a `DataError` for an unreadable video).
            RequestCancelled: `cancelled()` said True.
        """
        number, began, frames, outcome = next(self._requests), time.monotonic(), [0], "failed"
        try:
            with _NOTES.collect() as notes:  # warnings about the visitor's input: on the page, not in the log
                overlay, files, frame, report, session = self._segment(video, text, progress, cancelled, frames)
            notes = list(dict.fromkeys(notes))
            for note in notes:  # the operator's too, those that quote no sentence (a damaged upload, a missing font)
                if without_sentences(note, text) == note:
                    logger.warning("request %d: %s", number, note)
            outcome = "done" + (f" ({counted(len(notes), 'note')} shown)" if notes else "")
            model = self.predictor.source  # a path with a folder in it (not "run", which "running" holds)
            shown = [page_message(note, video, self.work_dir).replace(model, "the model") if os.sep in model
                     else page_message(note, video, self.work_dir) for note in notes]  # no server path, as errors
            return overlay, files, frame, report + "".join(f"\n\nNote: {as_text(note)}" for note in shown), session
        except RequestCancelled:  # (Gradio drops the running jobs when the server stops: not the visitor's doing)
            outcome = "stopped: the server is stopping" if self.stopping.is_set() else "stopped by the visitor"
            raise
        except ValueError as e:
            outcome = f"refused: {without_sentences(page_message(e, video, self.work_dir), text)}"
            raise
        finally:
            logger.info("%s", request_line(number, video, text, frames[0], time.monotonic() - began, outcome))

    def _segment(self, video, text, progress, cancelled, frames: list[int]):
        if not video:
            raise ValueError("upload a video first (or press 'Use the example video')")
        sentences = _sentences(text, self.max_sentences)
        info = video_info(video)
        if self.max_pixels and info.width and info.height and info.width * info.height > self.max_pixels:
            raise ValueError(f"{os.path.basename(video)}: the video's frames are {info.width} x {info.height} pixels; "
                             f"this page segments frames of at most {self.max_pixels:,} pixels (acga app "
                             "--max-pixels; or scale it down first)")
        total, done = info.frames, 0
        limit = self.max_frames
        if limit and total is not None and total > limit:
            raise ValueError(f"{os.path.basename(video)}: the video has {total} frames; this page segments at most "
                             f"{limit} (acga app --max-frames; or cut it, or use acga predict --start/--end)")

        def advance(count: int) -> None:
            nonlocal done
            done += count
            frames[0] = done
            if cancelled is not None and cancelled():  # the frames' window is written; the next is not begun
                raise RequestCancelled(f"stopped after {counted(done, 'frame')}")
            if limit and done > limit:  # a container that declared no count, or fewer frames than it holds
                raise ValueError(f"{os.path.basename(video)}: stopped after {limit} frames, the most this page "
                                 "segments (acga app --max-frames)")
            if progress is not None and total:
                progress(min(done / total, 1.0), desc=f"segmenting: frame {done} of {total}")

        with self.lock:
            self._remove_old_outputs()
            self.runs += 1
            out = os.path.join(self.work_dir, f"run-{self.runs:04d}")
            os.makedirs(out)
            try:
                summary = predict_to_files(self.predictor, video, sentences, output=os.path.join(out, "overlay.mp4"),
                                           frames_dir=os.path.join(out, "masks"), progress=advance,
                                           output_json=os.path.join(out, "masks.json"))
            except BaseException:  # nobody will fetch a failed or stopped request's outputs
                shutil.rmtree(out, ignore_errors=True)
                raise
        folders = ([os.path.join(out, "masks")] if len(sentences) == 1
                   else [os.path.join(out, "masks", str(k + 1)) for k in range(len(sentences))])
        zips = [self._zip(folder, os.path.join(out, f"masks-{k + 1}.zip"), sentence)
                for k, (folder, sentence) in enumerate(zip(folders, summary.queries))]
        middle = summary.num_frames // 2
        frame = next(iter_video_frames(video, damaged="skip", start=middle))  # from the keyframe before it
        frame = square_pixels(frame, summary.sample_aspect)  # as players show it, as the figure does
        files = [*zips, os.path.join(out, "masks.json")]  # all the masks as JSON: docs/serving.md#masks-as-json
        return summary.paths[0], files, frame, _report(summary), _Session(video, summary.queries, middle)

    def _remove_old_outputs(self) -> None:
        """Removes the outputs of requests older than `keep_outputs_s` (the page's folder grew with every request)."""
        cutoff = time.time() - self.keep_outputs_s
        for name in os.listdir(self.work_dir):
            path = os.path.join(self.work_dir, name)
            if re.fullmatch(r"run-\d+|attention-\d+\.png", name) and os.path.getmtime(path) < cutoff:
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)

    @staticmethod
    def _zip(folder: str, path: str, sentence: str) -> str:
        """A sentence's mask PNGs (`00001.png`, ..., pixels 0/255) in a zip, with the sentence in `sentence.txt`."""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("sentence.txt", sentence + "\n")
            for name in sorted(n for n in os.listdir(folder) if n.endswith(".png")):
                archive.write(os.path.join(folder, name), name)
        return path

    def attention(self, session: _Session | None, point: tuple[float, float]) -> str:
        """The attention figure (PNG path) of the first sentence at `point` (x, y) of the middle frame."""
        if session is None:
            raise ValueError("segment a video first, then click a point on its middle frame")
        if self.trained is None:
            raise ValueError("this page's model is exported or served: attention figures need a Keras model (acga "
                             "app --model with a run directory or a .keras file)")  # (it named the model's path)
        with self.lock, _NOTES.collect():  # (its notes repeat the segmenting's, shown with its report)
            maps = compute_attention(self.trained, session.video, session.sentences[0], frame=session.frame)
            self.runs += 1
            return save_figure(attention_figure(maps, point),
                               os.path.join(self.work_dir, f"attention-{self.runs}.png"))


def request_line(number: int, video: str | None, text: str | None, frames: int, seconds: float,
                 outcome: str) -> str:
    """The log's line for one request: when it ended, its number, the upload's file name, how many sentences and frames,
    how long it took and how it ended (the sentences themselves are the visitor's, not the log's). A character of the
    name that is not printable (a right-to-left override, which turns the rest of the line around on a terminal) as
    U+XXXX."""
    name = os.path.basename(os.fspath(video)) if video else "no video"
    name = "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in name)
    count = sum(bool(line.strip()) for line in (text or "").splitlines())
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f"{stamp} request {number}: {name}, {counted(count, 'sentence')}, {counted(frames, 'frame')}, "
            f"{seconds:.1f} s: {outcome}")


def _report(summary) -> str:
    """One line per sentence: its colour number, mask coverage and the frames where its mask is empty."""
    lines = []
    for k, (query, coverage, empty) in enumerate(zip(summary.queries, summary.coverage, summary.empty_frames)):
        note = (f"**empty in {len(empty)} of {summary.num_frames} frames** (first: frame {empty[0] + 1})" if empty
                else "found in every frame")
        lines.append(f"{k + 1}. *{as_text(query)}*: covers {100 * coverage:.1f}% of the pixels on average; {note}")
    return "\n".join(lines)


def as_text(text: str) -> str:
    """`text` for the page's Markdown, shown as typed: every ASCII punctuation character escaped with a backslash
    (CommonMark's escapes), so a visitor's `**word**`, `[link](url)` or `<img src=...>` is neither formatting, a link
    nor an image fetched from elsewhere (a reviewer's sentence made the browser load an outside URL)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


def build_page(app: WebApp):
    """The Gradio page over `app`'s actions."""
    gr = _gradio()

    def shown(error: ValueError, video: str | None) -> Exception:
        """The user's mistake as the page shows it: Gradio renders the message as HTML (a file name or sentence is
        escaped), and does not print it as a traceback in the server's log (it did for every such mistake). It stays
        until the visitor closes it (Gradio's went after 10 s, leaving the panels' "Error" badges without a word: a
        tester's)."""
        return gr.Error(html.escape(page_message(error, video, app.work_dir)), print_exception=False, duration=None)

    def segment(video, text, progress=gr.Progress()):
        try:
            return app.segment(video, text, progress, cancelled=request_gone(gr))
        except ValueError as e:  # the user's mistake: shown on the page
            raise shown(e, video) from None
        except RequestCancelled:  # nobody waits for the answer
            return None, None, None, "", None

    # Gradio passes the click to the parameter annotated `gr.SelectData`, reading the annotation's object: this
    # module does not postpone annotations, since `gr` is a local name here
    def attention(session, event: gr.SelectData):
        try:
            return app.attention(session, tuple(float(v) for v in event.index))
        except ValueError as e:
            raise shown(e, session.video if session else None) from None

    with gr.Blocks(title=TITLE, delete_cache=(600, int(app.keep_outputs_s))) as page:
        gr.Markdown(f"# {TITLE}\nUpload a video, type one sentence per line, press **Segment**.")
        session = gr.State(None)
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="video", sources=["upload"], elem_id="video")
                example = gr.Button("Use the example video", elem_id="example")
                text = gr.Textbox(label="sentences (one per line)", lines=3, elem_id="sentences",
                                  placeholder="the red circle jumping on the left")
                with gr.Row():
                    run = gr.Button("Segment", variant="primary", elem_id="segment")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Column():
                overlay = gr.Video(label="overlay", interactive=False, elem_id="overlay")
                masks = gr.File(label="masks (one zip of PNGs per sentence; masks.json: all, as COCO run-length "
                                "encoding)", file_count="multiple",
                                interactive=False, elem_id="masks")
                report = gr.Markdown(elem_id="report", latex_delimiters=[])  # (a sentence's $$...$$ as typed)
        with gr.Row():
            frame = gr.Image(label="middle frame: click a point for its attention" if app.trained is not None else
                             "middle frame (attention figures need a run's Keras model: this page's is exported or "
                             "served)", interactive=False, elem_id="frame")
            figure = gr.Image(label="attention of the clicked point (first sentence)", interactive=False,
                              elem_id="attention")
        example.click(app.example, outputs=video)
        # another video clears the last one's results (a tester downloaded a clip's masks beside the next clip)
        video.change(lambda: (None, None, None, "", None, None), outputs=[overlay, masks, frame, report, session,
                                                                          figure], show_progress="hidden")
        running = run.click(segment, inputs=[video, text], outputs=[overlay, masks, frame, report, session])
        stop.click(None, cancels=[running])
        frame.select(attention, inputs=session, outputs=figure)
    return page


def request_gone(gr) -> Callable[[], bool]:
    """For the page's function, called in the thread where Gradio runs it: whether its request was stopped (the Stop
    button) or its visitor left. Gradio stops waiting for such a request, but cannot stop the thread that runs it: the
    request then ran to its end, and the next visitor waited for it (142 s measured). This reads Gradio's queue: the
    request's event is no longer among the running jobs, or is marked not alive (a visitor who left). Where the queue
    is not what Gradio 5.50 to 6.31 have, the request is never taken for stopped."""
    blocks = gr.context.LocalContext.blocks.get(None)
    event_id = gr.context.LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)

    def event():
        for job in getattr(queue, "active_jobs", None) or []:
            for candidate in job or []:
                if getattr(candidate, "_id", None) == event_id:
                    return candidate
        return None

    if event_id is None or event() is None:  # not run by Gradio's queue, or a queue this does not know
        return lambda: False
    return lambda: not getattr(event(), "alive", False)


def page_message(error: Exception, video: str | None, work_dir: str) -> str:
    """An error as the page shows it: the upload named by its file name alone, and the page's folder left out. The
    server's paths are not the visitor's business (an error named where Gradio keeps the upload: the server's
    folders)."""
    text = str(error)
    if video:
        text = text.replace(os.fspath(video), os.path.basename(os.fspath(video)))
    return text.replace(os.path.join(work_dir, ""), "").replace(work_dir, "")


def check_address(host: str, port: int) -> None:
    """Checks that the page can listen on `host:port` before the model loads, by binding a socket there as the server
    would (with SO_REUSEADDR, as uvicorn binds) and closing it.

    Raises:
        ValueError: the port is out of range, the host is unknown, or the address is in use (the message names it).
    """
    if not 0 < port < 65536:
        raise ValueError(f"port {port}: expected 1 to 65535 (--port)")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:  # socket.gaierror (an unknown host) is one
        raise ValueError(f"{host}:{port}: cannot listen there ({e.strerror or e}); choose another --port or "
                         "--host") from None


def page_address(host: str, port: int) -> str:
    """Where a browser opens the page served on `host:port`: a wildcard host (0.0.0.0, ::, "": every address) as
    `localhost` with this machine's name for other machines (http://0.0.0.0:7860/ opens nothing in most browsers), an
    IPv6 address in brackets."""
    def url(name: str) -> str:
        return f"http://[{name}]:{port}/" if ":" in name else f"http://{name}:{port}/"

    try:  # as the server binds it: 0.0.0.0, 0, 0.0, 0x0, ::, ::0, "" (reviewers' spellings) are every address
        bound = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][4][0]
        everywhere = ipaddress.ip_address(bound.split("%")[0]).is_unspecified
    except (OSError, ValueError):  # a name that no longer resolves: as given
        everywhere = False
    if everywhere:
        return f"{url('localhost')} (from other machines: {url(socket.gethostname())})"
    return url(host)


def serve(model: str, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
          ready: Callable[[], None] | None = None, max_frames: int = MAX_FRAMES, max_upload_mb: int = MAX_UPLOAD_MB,
          max_pixels: int = MAX_PIXELS, max_sentences: int = MAX_SENTENCES):
    """Loads `model` and serves the page at http://host:port (blocks unless `block=False`; returns the page); calls
    `ready` once the model is loaded, before the page listens (the command says where it serves then, not before a
    model that fails to load). A host other than this machine's loopback is warned about: the page has no login.
    The page's folder (its outputs, and Gradio's cache of uploads unless GRADIO_TEMP_DIR names another or Gradio was
    imported before) is a new temporary one, removed when the page stops: at Ctrl-C, SIGTERM or SIGHUP when it
    blocks (which then raises KeyboardInterrupt, as any stop of a command does), else when Python exits.

    Raises:
        ImportError: Gradio is not installed (the message says how to install it).
        ValueError: the page cannot listen on `host:port` (`check_address`), or a limit is negative.
    """
    root = tempfile.mkdtemp(prefix="acga-app-")
    # Gradio's cache (uploads, the outputs it serves) in the page's own folder, unless GRADIO_TEMP_DIR says where:
    # Gradio's default, the shared /tmp/gradio, belongs to whoever used it first on the machine, and another user's
    # page then failed every upload (PermissionError); and the visitors' uploads outlived the page. Gradio reads the
    # variable when it is imported (some of its modules keep it): in a process that imported it already, as it was
    if "GRADIO_TEMP_DIR" not in os.environ and "gradio" not in sys.modules:
        os.environ["GRADIO_TEMP_DIR"] = os.path.join(root, "gradio")
    try:
        _gradio()  # before loading the model: say what is missing first
        check_address(host, port)
        if max_pixels < 0:
            raise ValueError(f"--max-pixels {max_pixels}: expected 0 or more pixels (0: no limit but the reader's, "
                             "8K UHD)")
        if max_frames < 0:  # (each named alone: one line named both, the one given and the other's default)
            raise ValueError(f"--max-frames {max_frames}: expected 0 or more frames (0: no limit)")
        if max_upload_mb < 1:
            raise ValueError(f"--max-upload-mb {max_upload_mb}: expected at least 1 MB")
        if max_sentences < 0:
            raise ValueError(f"--max-sentences {max_sentences}: expected 0 or more sentences a request (0: no limit)")
        if host not in LOCAL_HOSTS:
            logger.warning("listening on %s: anyone who can reach it can run the model on this machine (the page has "
                           "no login); serve it to a network you trust, or behind a proxy that asks for one", host)
        app = WebApp(model, os.path.join(root, "outputs"), max_frames=max_frames, max_pixels=max_pixels,
                     max_sentences=max_sentences)
        page = build_page(app)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    weakref.finalize(app, shutil.rmtree, root, ignore_errors=True)  # also at the interpreter's exit
    if ready is not None:
        ready()
    if not block:
        page.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                    allowed_paths=[app.work_dir], max_file_size=max_upload_mb * 1024 * 1024)
        return page
    try:
        with sigterm_as_interrupt() as stopped, noting_stops(app.stopping):
            page.launch(server_name=host, server_port=port, allowed_paths=[app.work_dir], quiet=True,  # (Gradio's
                        max_file_size=max_upload_mb * 1024 * 1024)  # "set share=True" hint: not this command's)
    finally:
        with contextlib.suppress(Exception):  # (a page stopped before it listened)
            page.close()
        shutil.rmtree(root, ignore_errors=True)
    if stopped.is_set():  # Gradio takes a stop's KeyboardInterrupt and returns: `acga app` ended with status 0,
        # without a word, where every command ends by the signal (a command-line reviewer's)
        raise KeyboardInterrupt("the page is closed and its visitors' files are removed")
    return page


__all__ = ["RequestCancelled", "WebApp", "as_text", "build_page", "check_address", "page_address", "page_message",
           "request_gone", "serve", "without_sentences"]
