"""Small A2D Sentences and J-HMDB Sentences trees in the real on-disk formats (docs/data.md#datasets), what the readers
must make of them, and the `acga prepare` call of the converter tests. The trees are built by the `a2d_root` and
`jhmdb_root` fixtures of conftest.py; tests import the constants and helpers from here (`from dataset_files import
...`)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import h5py
import numpy as np
import scipy.io
from PIL import Image

from acga_tf.cli import main

# The real annotation files (the `real_annotations` fixture: skipped where they are absent), beside the checkout as
# the other shared fixtures are (support.SHARED), or where this project's machines keep them
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "annotations"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/annotations")

# ----------------------------------------------------------------------------------------------- A2D Sentences

H = 320
NUM_FRAMES = 24
WIDTHS = {"--h5fAKYurM": 424, "-0cOo0cRVZU": 568, "EadxBPmQvtg": 568}
SPLITS = {"--h5fAKYurM": 0, "-0cOo0cRVZU": 0, "EadxBPmQvtg": 1, "MISSED00001": 0}
ANNOTATION = [
    "video_id,instance_id,query",
    "--h5fAKYurM,0,the pigeon is limping",
    "--h5fAKYurM,1 (copy),bird standing in the beach",
    "-0cOo0cRVZU,0,player in blue shirt passing a basketball on left",
    "-0cOo0cRVZU,1,  Instructor  standing on the sideline ",
    "-0cOo0cRVZU,2,Guy in blue shirt is walking towards a three point line",
    "EadxBPmQvtg,0,boy in the front left passing football",
    "EadxBPmQvtg,1,a man in black is standing on the left side",
]
# (video, frame) -> (instance list, number of masks); the quirks of docs/data.md#datasets.
FRAMES = {
    ("--h5fAKYurM", 8): ([0], 1),  # single instance: 2-D reMask
    ("--h5fAKYurM", 12): ([0], 1),
    ("--h5fAKYurM", 16): ([1], 1),  # referred instance 0 absent -> frame not emitted
    ("-0cOo0cRVZU", 8): ([0, 1, 1], 3),  # duplicated id -> first match
    ("-0cOo0cRVZU", 12): ([0, 2], 2),  # instance 1 absent
    ("-0cOo0cRVZU", 16): ([2, 0], 4),  # more masks than ids
    ("EadxBPmQvtg", 8): ([0, 1], 2),
    ("EadxBPmQvtg", 12): ([1], 1),
    ("EadxBPmQvtg", 16): ([0, 1], 2),
}


def make_mask(vid: str, frame: int, position: int) -> np.ndarray:
    """A distinct, non-symmetric (H, W) mask for the mask at `position` of a frame."""
    w = WIDTHS[vid]
    m = np.zeros((H, w), np.uint8)
    y0, x0 = 10 + 40 * position + frame, 20 + 60 * position + 2 * frame
    m[y0:y0 + 30, x0:x0 + 70] = 1
    m[y0, x0 + 70:x0 + 90] = 1  # a tail to the right: wrong if transposed
    return m


def write_video(path: Path, width: int, n: int = NUM_FRAMES, height: int = H) -> None:
    """PyAV, libx264 yuv420p; frame t is filled with value t*10 (docs/data.md#datasets)."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for t in range(n):
            img = np.full((height, width, 3), t * 10, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def write_h5(path: Path, masks: list, instance: list) -> None:
    n = len(masks)
    stack = np.stack([m.T for m in masks]).astype(np.uint8)  # (N, W, H): MATLAB transposition
    with h5py.File(path, "w") as f:
        f.create_dataset("reMask", data=stack[0] if n == 1 else stack)
        f.create_dataset("reBBox", data=np.tile(np.array([[1.5], [2.0], [50.25], [60.0]]), (1, n)))
        # actor-action ids by position (11, 22, 33, ...: docs/evaluation.md#by-class), each instance's its own
        f.create_dataset("id", data=np.array([[10.0 * (k % 7 + 1) + k % 9 + 1 for k in range(n)]]))
        f.create_dataset("instance", data=np.array(instance, np.int64))


def write_lines(path: Path, lines: list, newline: str = "\n") -> None:
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))


def write_a2d_tree(root: Path) -> Path:
    """The A2D Sentences tree of the constants above under `root` (the `a2d_root` fixture)."""
    (root / "Release" / "clips320H").mkdir(parents=True)
    text = root / "text_annotations"
    (text / "a2d_annotation_with_instances").mkdir(parents=True)
    write_lines(root / "Release" / "videoset.csv",
                [f"{v},48,0,4,360,640,{NUM_FRAMES},3,{u}" for v, u in SPLITS.items()])
    write_lines(text / "a2d_missed_videos.txt", ["MISSED00001"])
    write_lines(text / "a2d_annotation.txt", ANNOTATION)
    for vid, w in WIDTHS.items():
        write_video(root / "Release" / "clips320H" / f"{vid}.mp4", w)
    for (vid, frame), (instance, n) in FRAMES.items():
        folder = text / "a2d_annotation_with_instances" / vid
        folder.mkdir(exist_ok=True)
        write_h5(folder / f"{frame:05d}.h5", [make_mask(vid, frame, p) for p in range(n)], instance)
    return root


def summary(frames):
    return [(f.video_id, f.frame_number, [(r.instance_id, r.sentence) for r in f.referrals]) for f in frames]


S = {
    ("--h5fAKYurM", 0): "the pigeon is limping",
    ("-0cOo0cRVZU", 0): "player in blue shirt passing a basketball on left",
    ("-0cOo0cRVZU", 1): "instructor standing on the sideline",
    ("-0cOo0cRVZU", 2): "guy in blue shirt is walking towards a three point line",
    ("EadxBPmQvtg", 0): "boy in the front left passing football",
    ("EadxBPmQvtg", 1): "a man in black is standing on the left side",
}


def expected(vids):
    out = []
    for (vid, frame), (instance, _) in sorted(FRAMES.items()):
        if vid not in vids:
            continue
        refs = [(i, S[vid, i]) for v, i in S if v == vid and i in instance]
        if refs:
            out.append((vid, frame, refs))
    return out


def frame_values(frames: np.ndarray) -> np.ndarray:
    return frames.reshape(frames.shape[0], -1).mean(axis=1)


# ----------------------------------------------------------------------------------------------- J-HMDB Sentences

PULLUP = "30_(dead-hang)_pull-ups_pullup_u_cm_np1_ba_med_1"
BRUSH = "Trannydude___Brushing_SyntheticHair___OhNOES!__those_fukin_knots!_brush_hair_u_nm_np1_fr_goo_0"
JH = {PULLUP: ("pullup", 20, 20, "man pulling up"), BRUSH: ("brush_hair", 15, 12, " a woman is combing her hair ")}
ZERO_FRAME = (BRUSH, 7)  # an all-zero mask frame


def jhmdb_mask(vid: str, k: int) -> np.ndarray:
    m = np.zeros((240, 320), np.uint8)
    if (vid, k) != ZERO_FRAME:
        m[5 + 3 * k:45 + 3 * k, 10 + 4 * k:90 + 4 * k] = 1
        m[5 + 3 * k, 90 + 4 * k:110 + 4 * k] = 1
    return m


def write_jhmdb_tree(root: Path) -> Path:
    """The J-HMDB Sentences tree of the constants above under `root` (the `jhmdb_root` fixture)."""
    for vid, (action, n_png, n_mask, _) in JH.items():
        png_dir = root / "Rename_Images" / action / vid
        png_dir.mkdir(parents=True)
        for k in range(1, n_png + 1):
            Image.fromarray(np.full((240, 320, 3), k * 10, np.uint8)).save(png_dir / f"{k:05d}.png")
        mat_dir = root / "puppet_mask" / action / vid
        mat_dir.mkdir(parents=True)
        a = np.stack([jhmdb_mask(vid, k) for k in range(1, n_mask + 1)], axis=-1)  # (240, 320, T)
        scipy.io.savemat(mat_dir / "puppet_mask.mat", {"part_mask": a})
    write_lines(root / "jhmdb_annotation.txt", ["video_id,query"] + [f"{v},{q}" for v, (_, _, _, q) in JH.items()])
    entries = []
    for vid, ks in ((PULLUP, (2, 9, 17)), (BRUSH, (3, 7, 12))):
        action, _, _, q = JH[vid]
        usable = min(JH[vid][1], JH[vid][2])
        for k in ks:
            entries.append([vid, f"./jhmdb_sentences/Rename_Images/{action}/{vid}/{k:05d}.png",
                            f"./jhmdb_sentences/puppet_mask/{action}/{vid}/puppet_mask.mat", usable, q])
    (root / "metadata.json").write_text(json.dumps(entries))
    return root


# ----------------------------------------------------------------------------------------------- converted shards

SHARD_SIZE = 4  # frames per shard of the `a2d_shards` fixture: several shards per split


def prepare_a2d(root, out, *extra) -> int:
    """`acga prepare a2d` of `root` into `out` (SHARD_SIZE frames per shard, no progress bar); the exit code."""
    return main(["prepare", "a2d", "--root", str(root), "--output", str(out), "--shard-size", str(SHARD_SIZE),
                 "--no-progress", *extra])
