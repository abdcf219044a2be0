"""Tests of acga_tf/data/synthetic.py: the world parses with the real readers and its masks match its pixels."""

import filecmp
import os

import h5py
import numpy as np
import pytest
from scipy import ndimage

from acga_tf.data.a2d import read_a2d
from acga_tf.data.jhmdb import read_jhmdb
from acga_tf.data.synthetic import COLOURS, write_a2d_world, write_example_video, write_jhmdb_world
from acga_tf.data.video import load_sample, read_video_frames


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("a2d_world")
    summary = write_a2d_world(str(root), n_videos=12, seed=3)
    return str(root), summary


def test_world_parses_with_read_a2d(world):
    root, summary = world
    frames = read_a2d(root)
    assert len({f.video_id for f in frames}) == 12
    assert summary["missed"] not in {f.video_id for f in frames}
    assert len(frames) == summary["frames"]
    assert sum(len(f.referrals) for f in frames) == summary["samples"]
    test = read_a2d(root, split="test")
    assert {f.video_id for f in test} == {v for v, i in summary["videos"].items() if i["split"] == "test"}
    assert summary["test"] == 3 and summary["train"] == 9
    for f in frames:
        actors = summary["videos"][f.video_id]["actors"]
        for r in f.referrals:
            assert r.sentence == actors[r.instance_id]["sentence"]


def test_sentences_name_only_distinguishing_attributes(world):
    _, summary = world
    assert summary["needed_attributes"][3] >= 6  # one anchor per "full" video
    for info in summary["videos"].values():
        actors = info["actors"]
        assert len({(a["colour"], a["shape"], a["motion"]) for a in actors}) == len(actors)
        for a in actors:
            named = a["attributes"]
            others = [o for o in actors if o is not a]
            # the named attributes single the actor out ...
            assert all(any(o[n] != a[n] for n in named) for o in others)
            # ... and no smaller subset does
            for drop in named:
                rest = [n for n in named if n != drop]
                assert not all(any(o[n] != a[n] for n in rest) for o in others), (a, others)
            assert (a["colour"] in a["sentence"]) == ("colour" in named)
            assert (a["shape"] in a["sentence"]) == ("shape" in named)


def test_masks_cover_the_actor_pixels(world):
    root, summary = world
    frames = read_a2d(root)
    for f in frames[::4]:
        s = load_sample(f, 8)
        img = s.frames[s.center].astype(np.int32)
        covered = np.zeros((s.height, s.width), bool)
        for r, m in zip(f.referrals, s.masks):
            assert m.shape == (s.height, s.width) and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
            assert not (covered & (m > 0)).any()  # occlusion: masks are disjoint
            covered |= m > 0
            inner = ndimage.binary_erosion(m > 0, iterations=2)
            colour = np.array(COLOURS[summary["videos"][f.video_id]["actors"][r.instance_id]["colour"]])
            if inner.sum() < 10:
                continue
            err = np.abs(img[inner] - colour).max(axis=-1)
            assert np.median(err) < 20, (f.key, r)
        # outside every mask, (almost) no pixel has an actor colour: the masks cover the drawn shapes
        outer = ~ndimage.binary_dilation(covered, iterations=2)
        for colour in COLOURS.values():
            assert (np.abs(img[outer] - np.array(colour)).max(axis=-1) < 20).mean() < 0.005, f.key


def test_h5_layout_is_matlab_transposed(world):
    root, summary = world
    f = read_a2d(root)[0]
    w = summary["videos"][f.video_id]["width"]
    assert w != 160
    with h5py.File(f.mask_path, "r") as h:
        n = len(h["instance"])
        assert h["reMask"].shape == ((n, w, 160) if n > 1 else (w, 160))
        assert h["reBBox"].shape == (4, n) and h["id"].shape == (1, n)


def test_determinism(tmp_path, world):
    a, b = tmp_path / "a", tmp_path / "b"
    write_a2d_world(str(a), n_videos=3, seed=5)
    write_a2d_world(str(b), n_videos=3, seed=5)
    for rel in ("Release/videoset.csv", "text_annotations/a2d_annotation.txt",
                "text_annotations/a2d_missed_videos.txt"):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    clips = sorted(os.listdir(a / "Release/clips320H"))
    assert clips == sorted(os.listdir(b / "Release/clips320H"))
    for c in clips:
        assert filecmp.cmp(a / "Release/clips320H" / c, b / "Release/clips320H" / c, shallow=False), c
        np.testing.assert_array_equal(read_video_frames(str(a / "Release/clips320H" / c)),
                                      read_video_frames(str(b / "Release/clips320H" / c)))
    c = tmp_path / "c"
    write_a2d_world(str(c), n_videos=3, seed=6)
    annotations = "text_annotations/a2d_annotation.txt"
    assert (a / annotations).read_bytes() != (c / annotations).read_bytes()


def test_jhmdb_world(tmp_path):
    summary = write_jhmdb_world(str(tmp_path), n_videos=2, seed=1)
    frames = read_jhmdb(str(tmp_path))
    assert len(frames) == 6
    for f in frames:
        info = summary["videos"][f.video_id]
        assert f.num_frames == info["num_masks"] == 18
        assert f.referrals[0].sentence == info["sentence"]
        s = load_sample(f, 4)
        inner = ndimage.binary_erosion(s.masks[0] > 0, iterations=1)
        colour = np.array(COLOURS[info["actor"]["colour"]])
        assert np.abs(s.frames[s.center][inner].astype(int) - colour).max() <= 2  # PNG: lossless


@pytest.mark.parametrize("call, message", [
    (lambda root: write_a2d_world(root, height="160"), r"height='160': must be an even integer >= 2 \(yuv420p\)"),
    (lambda root: write_a2d_world(root, n_videos=0), "n_videos=0: must be an integer >= 1"),
    (lambda root: write_a2d_world(root, n_videos=4, test_fraction=1.5),
     r"test_fraction=1.5: must be a number in \[0, 1\]"),
    (lambda root: write_jhmdb_world(root, num_masks=50), "num_masks=50: at most num_frames=20"),
    (lambda root: write_jhmdb_world(root, num_frames=0), "num_frames=0: must be an integer >= 1"),
    (lambda root: write_example_video(os.path.join(root, "x.mp4"), height=161),
     "height=161: must be an even integer >= 2"),
    (lambda root: write_example_video(os.path.join(root, "x.mp4"), num_frames=0), "num_frames=0: must be an integer"),
])
def test_the_worlds_sizes_are_checked_naming_the_argument(call, message, tmp_path):
    """An API reader's: `height="160"` was "not all arguments converted during string formatting", `n_videos=0` and
    `test_fraction=1.5` wrote a world without training or test videos, `num_masks=50` of 20 frames was accepted,
    `write_example_video(height=161)` wrote a 162-pixel video and `num_frames=0` was NumPy's "zero-size array"."""
    with pytest.raises(ValueError, match=message):
        call(str(tmp_path / "world"))
