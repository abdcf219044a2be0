"""Figures like the paper's: per-pixel word attention, spatial attention and qualitative grids (docs/model.md#attention,
docs/evaluation.md#protocol).

The attention maps come from an attention-returning twin of a trained model (`attention_model`: the same config
with `return_attention=True` and the same weights), so no retraining is needed. Pixel positions are given in the
original frame's coordinates and mapped to the S/16 attention grid through the letterbox (docs/data.md#letterbox).

Figures are `matplotlib.figure.Figure`s on the Agg canvas, made without pyplot (no display and no global
backend state); `save_figure` writes them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import logging
import os
import re
import unicodedata
import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
import scipy.ndimage
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from acga_tf.apps.defaults import FIGURE_DPI, VECTOR_IMAGE_DPI
from acga_tf.apps.predict import VideoInfo, check_queries, check_query, load_video, square_pixels, video_info
from acga_tf.apps.predictors import KerasPredictor
from acga_tf.data.datasets import make_dataset
from acga_tf.data.manifest import matching_shards, shard_pattern
from acga_tf.data.text import tokenize_py
from acga_tf.data.video import iter_video_frames
from acga_tf.models.acga import ACGA
from acga_tf.models.metrics import sample_iou
from acga_tf.ops import files
from acga_tf.ops.config import positive_int
from acga_tf.ops.devices import require_tensorflow_backend
from acga_tf.ops.geometry import (
    clip_indices,
    letterbox_geometry,
    preprocess_clip,
    unletterbox,
)
from acga_tf.ops.postprocess import PEAK_FRAME, logits_outputs, mask_at_original_size
from acga_tf.ops.wording import counted
from acga_tf.training.artifacts import as_trained, model_inputs

logger = logging.getLogger(__name__)

PADDING_LABEL = "<0s>"  # padding words, labelled as in the paper's Figure 1
ATTENTION_STRIDE = 16  # docs/model.md#attention: attention positions are the S/16 × S/16 grid of Mixed_4f
GRID_COLUMNS = ("frame", "ground truth", "ours")
CAPTION_COLUMNS = 60  # a grid row's sentence, in columns of display width (`shortened`)
ATTENTION_COLOURS = "viridis"  # the spatial attention's colour map
# Fonts embedded in PDF and PostScript figures as TrueType (Type 42), not Matplotlib's default Type 3, which many
# publishers' PDF checks refuse
EMBEDDED_FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}
VECTOR_FORMATS = ("pdf", "svg", "svgz", "eps", "ps")  # text and lines at any size; images at `save_figure`'s dpi
# A PDF's and an SVG's metadata without the time (and an SVG's element ids from a fixed salt): the same figure gives
# the same bytes, as a PNG does (a reviewer's wish: figures kept in git changed at every run). EPS takes its time from
# SOURCE_DATE_EPOCH alone.
FIXED_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "svgz": {"Date": None}}


def _figure(**kwargs):
    """A matplotlib Figure on the Agg canvas, without pyplot: no global backend or figure-manager state."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def attention_model(model):
    """The model itself if it returns attention maps, else a twin built with `return_attention=True` and the
    same weights (outputs `word_attention` (B, N, L), `spatial_attention` (B, N, N); docs/model.md#attention)."""
    if model.config.return_attention:
        return model
    twin = ACGA.from_config({**model.get_config(), "config": model.config.replace(return_attention=True).to_dict()})
    twin.set_weights(model.get_weights())
    return twin


@dataclasses.dataclass
class AttentionMaps:
    """The attention of one query on the clip centred on one frame.

    Attributes:
        frame: uint8 (H, W, 3): the centre frame.
        frame_index: its index in the video.
        words: L labels: the query's tokens (first L), then `PADDING_LABEL` for each padding position.
        word_attention: float32 (N, L): row i = the word weights of attention position i (rows sum to 1).
        spatial_attention: float32 (N, N) or None (F_VA off): row i = position i's weights over all positions.
        probability: float32 (H, W): σ(logits) at the frame's size.
        mask: uint8 (H, W): the evaluated prediction (docs/evaluation.md#protocol).
        image_size: S; the attention grid is (S/16) × (S/16), N = (S/16)².
        query: the sentence.
        unknown: for each of `words`, whether the model's vocabulary lacks it (read as a zero vector, as padding).
    """
    frame: np.ndarray
    frame_index: int
    words: tuple[str, ...]
    word_attention: np.ndarray
    spatial_attention: np.ndarray | None
    probability: np.ndarray
    mask: np.ndarray
    image_size: int
    query: str
    unknown: tuple[bool, ...] = ()

    @property
    def grid(self) -> int:
        return self.image_size // ATTENTION_STRIDE

    def point_index(self, x: float, y: float) -> int:
        """The attention position (row-major on the S/16 grid) of frame pixel (x, y) (column, row).

        Raises:
            ValueError: the point lies outside the frame.
        """
        h, w = self.frame.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"point ({x:g}, {y:g}) is outside the {w}x{h} (WxH) frame")
        new_h, new_w, top, left = (int(v) for v in letterbox_geometry(h, w, self.image_size))
        lx, ly = left + (x + 0.5) * new_w / w, top + (y + 0.5) * new_h / h  # letterbox pixel coordinates
        col = min(int(lx // ATTENTION_STRIDE), self.grid - 1)
        row = min(int(ly // ATTENTION_STRIDE), self.grid - 1)
        return row * self.grid + col

    def word_weights(self, x: float, y: float) -> np.ndarray:
        """float32 (L,): the word attention row of the position under pixel (x, y)."""
        return self.word_attention[self.point_index(x, y)]

    def spatial_map(self, x: float, y: float) -> np.ndarray:
        """float32 (H, W): the spatial attention of the position under pixel (x, y) over the frame.

        Raises:
            ValueError: the model has no spatial attention (F_VA off).
        """
        if self.spatial_attention is None:
            raise ValueError("the model has no spatial attention (language_guided_attention is off)")
        n, s = self.grid, self.image_size
        row = self.spatial_attention[self.point_index(x, y)].reshape(n, n, 1)  # letterbox grid
        full = tf.image.resize(row[None], (s, s), method="bilinear")[0]  # (S, S, 1)
        h, w = self.frame.shape[:2]
        return np.asarray(unletterbox(full, h, w, method="bilinear"))[..., 0]


    def describe(self, x: float, y: float) -> list[str]:
        """The attention figure in words, for who cannot see it (a screen reader reads no
        picture): the word weights of the point, in sentence order, the padding's summed; where the model has
        spatial attention, the pixel it weighs most and the share of its weight inside the predicted mask; the mask's
        share of the frame.

        Raises:
            ValueError: the point lies outside the frame.
        """
        weights = self.word_weights(x, y)
        pairs = [(f"{word} (not in the vocabulary)" if unknown else word, w) for word, w, unknown in
                 zip(self.words, weights, self.unknown or (False,) * len(self.words)) if word != PADDING_LABEL]
        padding = float(sum(w for word, w in zip(self.words, weights) if word == PADDING_LABEL))
        lines = [f"frame {self.frame_index}, point ({x:g}, {y:g}): the mask covers {100 * self.mask.mean():.1f}% of "
                 f"the frame, and {'includes' if self.mask[int(y), int(x)] else 'does not include'} the point",
                 "word attention of the point: " + ", ".join(f"{word} {w:.2f}" for word, w in pairs)
                 + (f"; padding {padding:.2f} in all" if padding else "")]
        if self.spatial_attention is not None:
            spatial = self.spatial_map(x, y)
            peak_y, peak_x = np.unravel_index(int(np.argmax(spatial)), spatial.shape)
            inside = float((spatial * (self.mask > 0)).sum() / max(float(spatial.sum()), 1e-12))
            on_frame = self.frame_share(x, y)  # (a 320 x 60 video's point gave 75% of its weight to the padding,
            # neither drawn nor counted: a reviewer's)
            lines.append(f"spatial attention of the point: highest at ({peak_x}, {peak_y}); {100 * inside:.0f}% of "
                         "its weight on the frame lies inside the mask"
                         + (f"; {100 * (1 - on_frame):.0f}% of its weight falls on the letterbox padding, outside "
                            "the frame (not drawn)" if on_frame < 0.995 else ""))
        return lines

    def frame_share(self, x: float, y: float) -> float:
        """The share of the spatial attention of the position under pixel (x, y) that falls on the frame: the rest
        weighs the letterbox padding (docs/data.md#letterbox), which the figure does not draw.

        Raises:
            ValueError: the model has no spatial attention (F_VA off).
        """
        if self.spatial_attention is None:
            raise ValueError("the model has no spatial attention (language_guided_attention is off)")
        h, w = self.frame.shape[:2]
        new_h, new_w, top, left = (int(v) for v in letterbox_geometry(h, w, self.image_size))
        edges = np.arange(self.grid + 1) * ATTENTION_STRIDE  # each cell's share of the frame's pixels
        rows = np.clip(np.minimum(edges[1:], top + new_h) - np.maximum(edges[:-1], top), 0, None) / ATTENTION_STRIDE
        cols = np.clip(np.minimum(edges[1:], left + new_w) - np.maximum(edges[:-1], left), 0, None) / ATTENTION_STRIDE
        weights = self.spatial_attention[self.point_index(x, y)].reshape(self.grid, self.grid)
        return float((weights * np.outer(rows, cols)).sum() / max(float(weights.sum()), 1e-12))

    def inner_point(self) -> tuple[int, int]:
        """A pixel (x, y) well inside the predicted mask: the one farthest from its edge (the mask's mean can lie
        outside it, between its parts: the demo's figure asked about a pixel off the actor, a reviewer's); the
        frame's centre where the mask is empty."""
        if not self.mask.any():
            return self.frame.shape[1] // 2, self.frame.shape[0] // 2
        depth = scipy.ndimage.distance_transform_edt(np.pad(self.mask > 0, 1))[1:-1, 1:-1]
        ys, xs = np.nonzero(depth == depth.max())  # of the deepest pixels, the one nearest their centre (the first
        k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))  # was a whole frame's top-left corner)
        return int(xs[k]), int(ys[k])


def _attention_output(outputs: dict, key: str):
    """`key` or, for two-stream models, the first stream's `rgb_<key>`; None when the config has none."""
    for name in (key, f"rgb_{key}"):
        if name in outputs:
            return np.asarray(outputs[name], np.float32)[0]
    return None


def compute_attention(model_path_or_trained, video, query: str, *, frame: int | None = None) -> AttentionMaps:
    """Runs the attention twin of a trained model on the clip centred on `frame` (docs/data.md#letterbox).

    Args:
        model_path_or_trained: a trained run directory / `model.keras`, or a `TrainedModel` (one whose model
            already returns attention, e.g. with `model=attention_model(trained.model)`, is used as is, which saves
            building the twin on every call).
        video: a video file or uint8 frames (N, H, W, 3).
        query: the sentence.
        frame: the centre frame (default: the middle one, N // 2).

    Returns:
        `AttentionMaps`.

    Raises:
        ValueError: empty query or one without a vocabulary word, frame out of range, a model that is not RGB or has
            no word attention (F_TA off).
    """
    require_tensorflow_backend("the attention figure")
    query = check_query(query)  # before loading the model
    trained = as_trained(model_path_or_trained)
    # As predict: words the vocabulary lacks, or past L, are named; a sentence without a vocabulary word is refused.
    predictor = KerasPredictor(trained)
    query = check_queries(predictor, [query])[0]
    c = trained.config
    clip, frame = _clip_of(video, frame, c.clip_length)  # (T, H, W, 3), the centre's index
    h, w = clip.shape[1:3]
    words = np.asarray(predictor.vectorizer(tf.constant([query])), np.float32)  # (1, L, D): its vectorizer, built once
    inputs = {"video": np.asarray(preprocess_clip(clip, c.image_size))[None], "words": words}
    outputs = attention_model(trained.model).predict_on_batch(inputs)
    word_attention = _attention_output(outputs, "word_attention")
    if word_attention is None:
        raise ValueError(f"the model has no word attention (vision_guided_attention={c.vision_guided_attention}, "
                         f"attention={c.attention!r})")
    tokens = tokenize_py(query)[: c.sentence_length]
    unknown = tuple(bool(k < len(tokens) and not words[0, k].any()) for k in range(c.sentence_length))  # a zero row
    words = tuple(tokens) + (PADDING_LABEL,) * (c.sentence_length - len(tokens))
    post = logits_outputs(outputs["logits"], h, w, peak=PEAK_FRAME)  # as predict: the in-frame maximum
    return AttentionMaps(
        frame=clip[c.clip_length // 2], frame_index=frame, words=words, word_attention=word_attention,
        spatial_attention=_attention_output(outputs, "spatial_attention"),
        probability=np.asarray(post["probability"])[0], mask=np.asarray(post["mask"])[0],
        image_size=c.image_size, query=query, unknown=unknown)


def _clip_of(video, frame: int | None, clip_length: int) -> tuple[np.ndarray, int]:
    """The clip of frame `frame` (default: the middle one) as uint8 (T, H, W, 3), and `frame`. Of a file, only the
    clip's frames are decoded, from the keyframe before them (`iter_video_frames(start=)`): the web page asks for a
    clip at every click, and a long video does not fit in memory. The middle frame is taken from the count the
    container declares; where it declares none, the whole file is decoded. An anamorphic file's frames are resampled
    to square pixels (`square_pixels`): the figure shows them as players do, and points are in those pixels.

    Raises:
        ValueError: `frame` outside the video (a DataError for a file that cannot be read).
    """
    is_file = isinstance(video, (str, os.PathLike))
    info = video_info(video) if is_file else VideoInfo()
    n = info.frames
    if n is None:  # frames in memory, or a container without a frame count
        video, is_file = load_video(video)[0], False
        n = len(video)
    frame = n // 2 if frame is None else int(frame)
    first, stop = max(0, frame - clip_length // 2), frame + (clip_length + 1) // 2
    if 0 <= frame < n:
        read = (list(iter_video_frames(os.fspath(video), damaged="skip", start=first, max_frames=stop)) if is_file
                else list(video[first:stop]))
        n = first + len(read)  # the frames read end at the clip's last one, or at the video's end
    if not 0 <= frame < n:
        raise ValueError(f"frame {frame} is outside the video's {counted(n, 'frame')}")
    clip = np.stack([square_pixels(f, info.sample_aspect) for f in read])
    return clip[np.asarray(clip_indices(frame, n, clip_length)) - first], frame


# === Figures ===
def plot_word_attention(ax, weights: np.ndarray, words, unknown=()) -> None:
    """Bars of one pixel's word attention (L,) with the words as tick labels (padding as `PADDING_LABEL`); the words
    the vocabulary lacks (`unknown`, read as zero vectors) grey and hatched, their labels ending in "?" (they looked
    like the words the model read: a reviewer's wish)."""
    positions = np.arange(len(words))
    unknown = tuple(unknown) or (False,) * len(words)
    ax.bar(positions, np.asarray(weights, np.float64), color=["tab:grey" if u else "tab:blue" for u in unknown],
           hatch=[("//" if u else None) for u in unknown])
    ax.set_xticks(positions, [f"{word}?" if u else word for word, u in zip(words, unknown)], rotation=45, ha="right")
    if any(unknown):
        ax.text(0.99, 0.98, "?: not in the model's vocabulary (a zero vector)", transform=ax.transAxes, ha="right",
                va="top", fontsize=8)
    ax.set_ylim(0, max(1.0, float(np.max(weights)) * 1.05))
    ax.set_ylabel("attention weight")
    ax.set_gid("word_attention")


def plot_spatial_attention(ax, frame: np.ndarray, heat: np.ndarray, point: tuple[float, float]) -> None:
    """The frame with a spatial attention map (H, W) overlaid (colours span its min … max, read on the colour bar
    beside it) and the point marked."""
    ax.imshow(frame)
    # colours span the map's own min … max, as in the paper's figures, in a map whose lightness rises with the value
    # (the paper's jet does not: its yellow is lighter than its red, and it reads wrong in grey or to many colour-blind
    # readers)
    shown = ax.imshow(heat, cmap=ATTENTION_COLOURS, alpha=0.5)
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, label="attention")  # (else colours
    # without a scale)
    ax.plot([point[0]], [point[1]], marker="*", color="white", markeredgecolor="black", markersize=14)
    ax.set_axis_off()
    ax.set_gid("spatial_attention")


def attention_figure(maps: AttentionMaps, point: tuple[float, float]):
    """The paper's attention figure for one query point (x, y) in frame pixels: (a) the frame with the point and
    the predicted mask, (b) the spatial attention of the point over the frame (if the model has F_VA), (c) the
    point's word attention over the sentence.

    Raises:
        ValueError: the point lies outside the frame.
    """
    x, y = point
    weights = maps.word_weights(x, y)  # validates the point
    panels = 3 if maps.spatial_attention is not None else 2
    fig = _figure(figsize=(4.2 * panels, 4.2))
    axes = fig.subplots(1, panels)
    axes[0].imshow(maps.frame)
    axes[0].imshow(np.ma.masked_equal(maps.mask, 0), cmap="autumn", alpha=0.45, vmin=0, vmax=1)
    if maps.mask.any():  # its outline too: the tint alone is colour
        axes[0].contour(maps.mask, levels=[0.5], colors="white", linewidths=1.2)
    axes[0].plot([x], [y], marker="*", color="white", markeredgecolor="black", markersize=14)
    axes[0].set_title(f"frame {maps.frame_index} and prediction")
    axes[0].set_axis_off()
    if maps.spatial_attention is not None:
        plot_spatial_attention(axes[1], maps.frame, maps.spatial_map(x, y), (x, y))
        axes[1].set_title(f"spatial attention of ({x:g}, {y:g})")
    plot_word_attention(axes[-1], weights, maps.words, maps.unknown)
    axes[-1].set_title(f"word attention of ({x:g}, {y:g})")
    fig.suptitle(shortened(maps.query, 90), parse_math=False)  # as typed: "$$x$$" or "$5 and $6" was
    # Matplotlib's mathtext, and a ParseException for the sentence
    with glyphs_noted(fig):
        fig.tight_layout()
    return fig


def qualitative_grid(model_path_or_trained, data_pattern: str, samples: int = 4, *, batch_size: int = 4,
                     sample_ids: Sequence[str] | None = None):
    """Rows of (frame, ground truth, ours) for the first `samples` samples of prepared evaluation shards, or for the
    samples `sample_ids` names, in that order; each row captioned with the sentence, the sample's id and its IoU at
    the frame's original size (docs/evaluation.md#protocol). The frame is the one stored in the shards, at its
    original size.

    Args:
        model_path_or_trained: a trained run directory / `model.keras`, or a `TrainedModel`.
        data_pattern: glob of TFRecord shards written by `acga prepare`.
        samples: number of rows (without `sample_ids`).
        batch_size: samples per forward pass.
        sample_ids: the samples to show, by their ids ("<video>/<frame:05d>/<instance>", as `acga evaluate
            --output-csv` lists them with their IoU): the examples a paper picks. An id names an actor in a frame:
            each of its sentences gets a row (your own data's several expressions of one object).

    Returns:
        The figure; `fig.samples` lists (sample_id, sentence, IoU) per row.

    Raises:
        ValueError: `samples` < 1, no sample in the shards, or an id of `sample_ids` that none has.
        FileNotFoundError: no shard matches `data_pattern`.
    """
    require_tensorflow_backend("the qualitative grid")
    samples = positive_int("samples", samples)
    wanted = list(dict.fromkeys(sample_ids)) if sample_ids is not None else None
    if wanted is not None and (not wanted or not all(isinstance(i, str) for i in wanted)):
        raise ValueError(f"sample_ids={sample_ids!r}: give one or more sample ids (str), as acga evaluate's "
                         "--output-csv lists them")
    data_pattern = shard_pattern(data_pattern)
    matching_shards(data_pattern)  # before loading the model
    trained = as_trained(model_path_or_trained)
    ds = make_dataset(data_pattern, trained.config, training=False, batch_size=batch_size,
                      vectorizer=trained.vectorizer(), with_info=True)
    # An id names an actor in a frame: each of its sentences is a sample of its own, a row of its own (a
    # Refer-YouTube-VOS researcher's two expressions of one object showed one, without a word). A frame's samples
    # are stored together, so the search ends past the last id asked for.
    found: dict[str, list] = {}
    first: list = []  # without ids: the first samples
    looked_for = set(wanted or ())
    frames_of = {i.rsplit("/", 1)[0] for i in looked_for}  # "<video>/<frame>": the frames whose samples are wanted
    for inputs, _, info in ds:
        ids = [i.decode() for i in info["sample_id"].numpy()]
        if wanted is None:
            chosen = list(range(min(len(ids), samples - len(first))))
        else:
            chosen = [k for k, i in enumerate(ids) if i in looked_for]
            if len(found) == len(wanted) and not any(i.rsplit("/", 1)[0] in frames_of for i in ids):
                break  # past the frames of every id asked for (another actor's sentences can come between)
        if not chosen:  # (no forward pass for a batch of samples not shown)
            continue
        logits = np.asarray(trained.model.predict_on_batch(inputs)["logits"], np.float32)
        for k in chosen:
            h, w = int(info["height"][k]), int(info["width"][k])
            frame = np.asarray(tf.io.decode_jpeg(info["frame_jpeg"][k], channels=3))  # (it was the model's input,
            # S x S, scaled back up: a 128-pixel model's frame was blurred beside masks of the full size)
            truth = np.asarray(tf.io.decode_png(info["mask_png"][k], channels=1))[..., 0] > 0
            ours = mask_at_original_size(tf.sigmoid(logits[k]), h, w)
            row = (ids[k], info["sentence"][k].numpy().decode(), frame, truth, ours, float(sample_iou(ours, truth)))
            (first if wanted is None else found.setdefault(ids[k], [])).append(row)
        if wanted is None and len(first) == samples:
            break
    if wanted is not None and (absent := [i for i in wanted if i not in found]):
        raise ValueError(f"{data_pattern}: no sample {', '.join(absent[:3])}{' ...' if len(absent) > 3 else ''} "
                         "(sample ids are <video>/<frame:05d>/<instance>, as acga evaluate --output-csv lists them)")
    rows = [row for i in wanted for row in found[i]] if wanted is not None else first
    if not rows:
        raise ValueError(f"{data_pattern}: no sample in the shards")
    if wanted is None and len(rows) < samples:
        logger.warning("%s holds %d samples, fewer than the %d asked for", data_pattern, len(rows), samples)
    fig = _figure(figsize=(9, 3.1 * len(rows)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for r, (sample_id, sentence, frame, truth, ours, iou) in enumerate(rows):
        for col, image in enumerate((frame, truth, ours)):
            ax = axes[r, col]
            ax.imshow(image, cmap=None if col == 0 else "gray", vmin=0, vmax=255 if col == 0 else 1)
            ax.set_axis_off()
            if r == 0:
                ax.set_title(GRID_COLUMNS[col], fontweight="bold")
        axes[r, 0].text(0, -0.04, shortened(f'"{sentence}"', CAPTION_COLUMNS), transform=axes[r, 0].transAxes,
                        va="top", fontsize=8, parse_math=False)  # (as typed: not mathtext)
        axes[r, 1].text(0, -0.04, sample_id, transform=axes[r, 1].transAxes, va="top", fontsize=8,
                        parse_math=False)  # (a row was told from another by its sentence alone: the ids `--sample`
        # and evaluate's CSV use)
        axes[r, 2].text(0, -0.04, f"IoU {iou:.2f}", transform=axes[r, 2].transAxes, va="top", fontsize=8)
    with glyphs_noted(fig):
        fig.tight_layout()
    fig.samples = [(sample_id, sentence, iou) for sample_id, sentence, *_, iou in rows]
    return fig


def shortened(text: str, columns: int) -> str:
    """`text` cut to `columns` columns of display width (a wide CJK character takes two) with " [...]" where it is
    cut, at a space where there is one in its last third: a grid's caption had 60 characters, and 42 Chinese ones
    ran over the sample id beside it (a reviewer's); an unspaced sentence was "[...]" alone."""
    def width(part):  # (an accent or a joiner takes no column, and stays with the character before it)
        return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf") else
                   2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in part)

    if width(text) <= columns:
        return text
    cut, used = 0, 0
    while cut < len(text) and used + width(text[cut]) <= columns - len(" [...]"):
        used += width(text[cut])
        cut += 1
    space = text.rfind(" ", 0, cut + 1)
    return text[:space if space > 2 * cut // 3 else cut].rstrip() + " [...]"


def figure_format(path: str) -> str:
    """The format of a figure file, from its extension: "png", "pdf", "svg", "jpg", ... (what Matplotlib writes).

    Raises:
        ValueError: no extension, one Matplotlib cannot write, or .pgf.
    """
    ext = os.path.splitext(os.fspath(path))[1][1:].lower()
    formats = FigureCanvasAgg.get_supported_filetypes()
    if ext not in formats:
        raise ValueError(f"{path}: the figure's format is its extension, {'.' + ext if ext else 'none'} is not one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    if ext == "pgf":  # (LaTeX's own format keeps each image in a file of its own beside it: with LaTeX it failed
        # after the work, without it a traceback; the reviewers')
        raise ValueError(f"{path}: .pgf is not written here (LaTeX's format keeps each image in a file of its own); "
                         "LaTeX takes a .pdf figure")
    return ext


def figure_inputs(model, video: str | None) -> list[tuple[str, str]]:
    """What a figure of `model` on `video` reads, as `files.check_not_input` takes it: the model's files
    (`artifacts.model_files`), the video, or each frame of a folder of frames, which the figure written over one of
    them replaced (`--output frames/00003.png`; docs/reliability.md)."""
    frames = sorted(os.listdir(video)) if video and os.path.isdir(video) else []
    return [*model_inputs(model), *([(video, "the input video")] if video else []),
            *((os.path.join(video, name), f"a frame of the input video ({video})") for name in frames)]


MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")  # Matplotlib's warning, one per character and drawing


@contextlib.contextmanager
def glyphs_noted(fig=None):
    """Matplotlib's warnings that the font has no glyph for a character (an emoji in a sentence: drawn as a box), one
    per character and per drawing and naming Matplotlib's source line, become one log warning naming the characters,
    once per figure (`fig`: its layout and its save draw it twice); other warnings pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing = []
    for warning in caught:
        found = MISSING_GLYPH.search(str(warning.message))
        if found:
            missing.append(chr(int(found.group(1))))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    noted = getattr(fig, "acga_missing_glyphs", set()) if fig is not None else set()
    missing = [c for c in dict.fromkeys(missing) if c not in noted]
    if fig is not None:
        fig.acga_missing_glyphs = noted | set(missing)
    if missing:
        logger.warning("the figure's font has no glyph for %s: drawn as a box", " ".join(missing))


def save_figure(fig, path: str, dpi: int | None = None) -> str:
    """Writes a figure (PNG, PDF, SVG, ... by extension, `figure_format`), creating the folder; returns `path`.
    It is written beside `path` and renamed to it, so a failed write (a full disk) leaves an earlier file as it was.
    `dpi`: the pixels per inch of a raster figure and of the images inside a vector one (`VECTOR_FORMATS`: its text
    and lines are drawn at any size); by default `FIGURE_DPI` for a raster figure and `VECTOR_IMAGE_DPI` for a
    vector one. A PDF's fonts are embedded as TrueType (`EMBEDDED_FONTS`). The same figure gives the same bytes
    (`FIXED_METADATA`; a PostScript header's time is replaced by the title).

    Raises:
        ValueError: as `figure_format`, `dpi` not a whole number >= 1, or `path` not writable
            (`files.check_writable`).
    """
    path = os.fspath(path)
    fmt = figure_format(path)
    vector = fmt in VECTOR_FORMATS
    dpi = positive_int("dpi", (VECTOR_IMAGE_DPI if vector else FIGURE_DPI) if dpi is None else dpi)
    files.check_writable(path)  # (a write-protected file the command refuses was replaced: a reviewer's)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    buffer = io.BytesIO()  # (saved to a file, its temporary name went into an EPS's title and an SVGZ's header)
    with glyphs_noted(fig), matplotlib.rc_context({**EMBEDDED_FONTS, "svg.hashsalt": "acga"}):
        fig.savefig(buffer, format="svg" if fmt == "svgz" else fmt, dpi=dpi, bbox_inches="tight",
                    metadata={"Title": os.path.basename(path), **FIXED_METADATA[fmt]} if fmt in FIXED_METADATA
                    else None)
    data = gzip.compress(buffer.getvalue(), mtime=0) if fmt == "svgz" else buffer.getvalue()  # (Matplotlib's own
    # gzip header held the time)
    if fmt in ("eps", "ps"):  # Matplotlib's header holds the time, and a title only where it opens the file itself
        title = b"%%Title: " + os.path.basename(path).encode("ascii", "replace")
        data = re.sub(rb"^%%CreationDate: [^\n]*$", lambda _: title, data, count=1, flags=re.MULTILINE)
    with files.atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(data)
    logger.info("wrote %s", path)
    return path
