"""Masks as JSON: COCO's run-length encoding, a box and an area (docs/serving.md#masks-as-json).

A mask travels in a JSON answer as COCO's uncompressed RLE, `{"size": [H, W], "counts": [...]}`: the lengths of the
runs of 0s and 1s in the mask read column by column (Fortran order), starting with the 0s (a first count of 0 where
the first pixel is 1). It is what COCO's tools, pycocotools' `frPyObjects` and the tools built on them (Detectron2,
SAM's) read; a mask of a 1920 × 1080 frame takes a few thousand numbers where a PNG in base64 would take more and
need an image library to read.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def encode(mask: Any) -> dict[str, Any]:
    """A (H, W) mask (nonzero: foreground) → COCO's uncompressed RLE, `{"size": [H, W], "counts": [int, ...]}`.

    Raises:
        ValueError: the mask is not two-dimensional.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask of shape {mask.shape}: expected (H, W)")
    flat = mask.astype(bool).ravel(order="F")
    ends = np.concatenate([np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    counts = np.diff(ends, prepend=0)
    if flat.size and flat[0]:  # the runs start with the 0s
        counts = np.concatenate([[0], counts])
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts.tolist()}


def decode(rle: dict[str, Any]) -> np.ndarray:
    """COCO's uncompressed RLE → uint8 (H, W) in {0, 1}.

    Raises:
        ValueError: counts that are negative or do not add up to H × W.
    """
    height, width = (int(n) for n in rle["size"])
    if isinstance(rle["counts"], (str, bytes)):
        raise ValueError("a compressed RLE (counts as a string, pycocotools' `encode`): decode it with pycocotools' "
                         "`mask.decode`; this reads the uncompressed form, a list of counts")
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if (counts < 0).any():
        raise ValueError(f"an RLE with a negative count ({counts[counts < 0][0]})")
    if counts.sum() != height * width:
        raise ValueError(f"an RLE of size {height}x{width} whose counts add up to {counts.sum()}, "
                         f"not {height * width}")
    values = (np.arange(counts.size) % 2).astype(np.uint8)
    return np.repeat(values, counts).reshape((height, width), order="F")


def box(mask: Any) -> list[int] | None:
    """The box around a (H, W) mask's foreground as COCO writes it, `[x, y, width, height]` in pixels; None for an
    empty mask."""
    mask = np.asarray(mask).astype(bool)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return [int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)]


def record(mask: Any) -> dict[str, Any]:
    """One mask in JSON: `{"area": foreground pixels, "box": [x, y, w, h] or null, "rle": {"size", "counts"}}`."""
    mask = np.asarray(mask)
    return {"area": int(np.count_nonzero(mask)), "box": box(mask), "rle": encode(mask)}
