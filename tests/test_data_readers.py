"""Tests of the A2D / J-HMDB Sentences readers and sample loading (acga_tf/data/{a2d,jhmdb,video}.py).

Fixtures are written in the real on-disk formats, following DATASETS.md §5, and the real annotation files of
shared/fixtures/annotations are parsed completely.
"""

import csv
import dataclasses
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import av
import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from acga_tf.data.a2d import read_a2d, read_a2d_annotations, read_videoset
from acga_tf.data.jhmdb import (
    read_jhmdb,
    read_jhmdb_annotations,
    read_jhmdb_metadata,
    rebase_metadata_path,
    uniform_frames,
)
from acga_tf.data.types import DataError, Referral, Skipped
from acga_tf.data.video import (
    LoadedSample,
    load_sample,
    read_png_frames,
    read_video_frames,
    window_bounds,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "annotations"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/annotations")

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
# (video, frame) -> (instance list, number of masks); DATASETS.md §5 quirks.
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
    """PyAV, libx264 yuv420p; frame t is filled with value t*10 (DATASETS.md §5)."""
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
        f.create_dataset("id", data=np.full((1, n), 11.0))
        f.create_dataset("instance", data=np.array(instance, np.int64))


def write_lines(path: Path, lines: list, newline: str = "\n") -> None:
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("a2d_sentences")
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


@pytest.fixture
def a2d_copy(a2d_root, tmp_path) -> Path:
    """A writable copy for tests that break files."""
    root = tmp_path / "a2d"
    shutil.copytree(a2d_root, root)
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


# ----------------------------------------------------------------------------------------------- A2D reading


def test_a2d_samples_and_splits(a2d_root, caplog):
    with caplog.at_level("INFO"):
        frames = read_a2d(str(a2d_root))
    assert "1 (copy)" in caplog.text
    assert summary(frames) == expected(set(WIDTHS))
    assert len(frames) == 8 and sum(len(f.referrals) for f in frames) == 13
    train = read_a2d(str(a2d_root), split="train")
    test = read_a2d(str(a2d_root), split="test")
    assert summary(train) == expected({"--h5fAKYurM", "-0cOo0cRVZU"})
    assert summary(test) == expected({"EadxBPmQvtg"})
    assert {f.split for f in train} == {"train"} and {f.split for f in test} == {"test"}
    f = test[0]
    assert f.dataset == "a2d" and f.num_frames is None and f.key == "EadxBPmQvtg/00008"
    assert f.frames_path == str(a2d_root / "Release" / "clips320H" / "EadxBPmQvtg.mp4")
    assert f.mask_path == str(a2d_root / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg" /
                              "00008.h5")
    assert f.referrals[0].line.endswith("a2d_annotation.txt:7")
    with pytest.raises(ValueError, match="split is 'val'"):
        read_a2d(str(a2d_root), split="val")


def test_a2d_crlf_and_bom(a2d_copy):
    ann = a2d_copy / "text_annotations" / "a2d_annotation.txt"
    ann.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(ANNOTATION)).encode())  # CRLF, BOM, no final newline
    write_lines(a2d_copy / "Release" / "videoset.csv",
                [f"{v},48,0,4,360,640,24,3,{u}" for v, u in SPLITS.items()], newline="\r\n")
    assert summary(read_a2d(str(a2d_copy))) == expected(set(WIDTHS))


def test_a2d_configurable_paths(a2d_copy):
    shutil.move(a2d_copy / "text_annotations", a2d_copy / "Release" / "text")
    frames = read_a2d(str(a2d_copy), annotation_path=str(a2d_copy / "Release/text/a2d_annotation.txt"),
                      missed_path=str(a2d_copy / "Release/text/a2d_missed_videos.txt"),
                      instances_dir=str(a2d_copy / "Release/text/a2d_annotation_with_instances"))
    assert summary(frames) == expected(set(WIDTHS))


@pytest.mark.parametrize("row, reason, match", [
    ("EadxBPmQvtg,1", "bad_row", r"a2d_annotation\.txt:9: expected 3 columns"),
    ("EadxBPmQvtg,1,a,b", "bad_row", r"a2d_annotation\.txt:9: expected 3 columns"),
    ("EadxBPmQvtg,x1,a dog", "bad_row", r"a2d_annotation\.txt:9: column 'instance_id' is 'x1'"),
    ("EadxBPmQvtg,-1,a dog", "bad_row", r"a2d_annotation\.txt:9: column 'instance_id' is '-1'"),
    ("EadxBPmQvtg,1,   ", "empty_sentence", r"a2d_annotation\.txt:9: column 'query' is empty"),
    ("ZZZZZZZZZZZ,0,a dog", "unknown_video", r"a2d_annotation\.txt:9: column 'video_id' is 'ZZZZZZZZZZZ', not listed"),
    ("../../etc,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id' is '\.\./\.\./etc'"),
    ("a\\b,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id'"),
    ("ab\x00c,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id'"),
    (b"EadxBPmQvtg,1,caf\xe9 dog", "bad_encoding", r"a2d_annotation\.txt:9: line is not valid UTF-8"),
])
def test_a2d_bad_rows(a2d_copy, row, reason, match):
    ann = a2d_copy / "text_annotations" / "a2d_annotation.txt"
    data = ("\n".join(ANNOTATION) + "\n").encode()
    data += (row if isinstance(row, bytes) else row.encode()) + b"\n"
    ann.write_bytes(data)
    with pytest.raises(DataError, match=match) as e:
        read_a2d(str(a2d_copy))
    assert e.value.reason == reason
    skipped = []
    frames = read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)
    assert summary(frames) == expected(set(WIDTHS))
    assert [s.reason for s in skipped] == [reason]
    assert skipped[0].source.endswith("a2d_annotation.txt:9")


def test_a2d_bad_header_and_videoset(a2d_copy):
    ann = a2d_copy / "text_annotations" / "a2d_annotation.txt"
    write_lines(ann, ANNOTATION[1:])
    with pytest.raises(DataError, match=r"a2d_annotation\.txt:1: header is '--h5fAKYurM,0,the pigeon is limping'"):
        read_a2d(str(a2d_copy))
    write_lines(ann, ANNOTATION)
    vs = a2d_copy / "Release" / "videoset.csv"
    write_lines(vs, ["video_id,label,a,b,c,d,e,f,usage"] + [f"{v},48,0,4,360,640,24,3,{u}" for v, u in SPLITS.items()])
    with pytest.raises(DataError, match=r"videoset\.csv:1: column 8 'usage' is 'usage'"):
        read_a2d(str(a2d_copy))
    write_lines(vs, [f"{v},48,0,4,360,640,24,3,{u}" for v, u in SPLITS.items()] + ["XYZ,1,2"])
    with pytest.raises(DataError, match=r"videoset\.csv:5: expected 9 comma-separated columns"):
        read_a2d(str(a2d_copy))
    skipped = []
    assert summary(read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)) == expected(set(WIDTHS))
    assert skipped == [Skipped(str(vs) + ":5", "bad_row", skipped[0].message)]


def test_a2d_missing_files(a2d_copy):
    (a2d_copy / "Release" / "clips320H" / "-0cOo0cRVZU.mp4").unlink()
    with pytest.raises(DataError, match=r"-0cOo0cRVZU\.mp4: video file not found .*a2d_annotation\.txt:4") as e:
        read_a2d(str(a2d_copy))
    assert e.value.reason == "missing_video"
    shutil.rmtree(a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg")
    skipped = []
    frames = read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)
    assert summary(frames) == expected({"--h5fAKYurM"})
    assert sorted(s.reason for s in skipped) == ["missing_annotations", "missing_video"]
    (a2d_copy / "text_annotations" / "a2d_missed_videos.txt").unlink()
    with pytest.raises(DataError, match=r"a2d_missed_videos\.txt: file not found"):
        read_a2d(str(a2d_copy))


def test_a2d_bad_h5(a2d_copy):
    bad = a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg" / "00012.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError, match=r"EadxBPmQvtg/00012\.h5: cannot read field 'instance'") as e:
        read_a2d(str(a2d_copy), split="test")
    assert e.value.reason == "bad_mask"
    skipped = []
    frames = read_a2d(str(a2d_copy), split="test", skip_bad=True, skipped=skipped)
    assert [f.frame_number for f in frames] == [8, 16] and skipped[0].reason == "bad_mask"


# ----------------------------------------------------------------------------------------------- A2D loading


def frame_values(frames: np.ndarray) -> np.ndarray:
    return frames.reshape(frames.shape[0], -1).mean(axis=1)


def test_read_video_frames_indexing(a2d_root):
    v = read_video_frames(str(a2d_root / "Release" / "clips320H" / "--h5fAKYurM.mp4"))
    assert v.shape == (24, 320, 424, 3) and v.dtype == np.uint8
    np.testing.assert_allclose(frame_values(v), np.arange(24) * 10, atol=3)
    assert read_video_frames(str(a2d_root / "Release" / "clips320H" / "--h5fAKYurM.mp4"), max_frames=5).shape[0] == 5


def test_load_sample_a2d_masks_and_window(a2d_root):
    frames = {(f.video_id, f.frame_number): f for f in read_a2d(str(a2d_root))}
    # duplicated ids [0, 1, 1]: instance 1 -> first match (position 1)
    s = load_sample(frames["-0cOo0cRVZU", 8], window=16)
    assert isinstance(s, LoadedSample) and (s.height, s.width) == (320, 568)
    assert s.frames.shape == (15, 320, 568, 3) and s.center == 7 and s.first_index == 0  # [−1, 15) clamped
    np.testing.assert_allclose(frame_values(s.frames), np.arange(15) * 10, atol=3)
    assert int(np.argmin(np.abs(frame_values(s.frames) - 70))) == s.center  # annotated frame 8 = decoded 7
    for m, pos in zip(s.masks, [0, 1]):
        assert m.shape == (320, 568) and m.dtype == np.uint8
        np.testing.assert_array_equal(m, make_mask("-0cOo0cRVZU", 8, pos))
    # more masks than ids; annotation order 0 then 2: instance 0 is at position 1, instance 2 at position 0
    s = load_sample(frames["-0cOo0cRVZU", 16], window=16)
    assert [r.instance_id for r in frames["-0cOo0cRVZU", 16].referrals] == [0, 2]
    np.testing.assert_array_equal(s.masks[0], make_mask("-0cOo0cRVZU", 16, 1))
    np.testing.assert_array_equal(s.masks[1], make_mask("-0cOo0cRVZU", 16, 0))
    assert s.frames.shape[0] == 16 and s.center == 8 and s.first_index == 7  # [7, 23)
    np.testing.assert_allclose(frame_values(s.frames), np.arange(7, 23) * 10, atol=3)
    # single instance, 2-D reMask, W = 424 != H
    s = load_sample(frames["--h5fAKYurM", 12], window=1)
    assert s.frames.shape == (1, 320, 424, 3) and s.center == 0
    np.testing.assert_allclose(frame_values(s.frames), [110], atol=3)
    np.testing.assert_array_equal(s.masks[0], make_mask("--h5fAKYurM", 12, 0))


def test_window_bounds():
    assert window_bounds(7, 16, 24) == (0, 14)
    assert window_bounds(23, 16, 24) == (15, 23)
    assert window_bounds(10, 5, 24) == (8, 12)
    assert window_bounds(10, 4, 24) == (8, 11)
    assert window_bounds(0, 8, 1) == (0, 0)
    with pytest.raises(ValueError, match="center 24 is outside"):
        window_bounds(24, 8, 24)


def test_load_sample_errors(a2d_copy):
    frames = {(f.video_id, f.frame_number): f for f in read_a2d(str(a2d_copy))}
    f = frames["EadxBPmQvtg", 8]
    with pytest.raises(DataError, match=r"EadxBPmQvtg\.mp4: the video has 24 frames, fewer than annotated frame 30") \
            as e:
        load_sample(dataclasses.replace(f, frame_number=30), 8)
    assert e.value.reason == "short_video"
    with pytest.raises(DataError, match=r"00008\.h5: field 'instance' is \[0, 1\]: referred instance 5 is absent") \
            as e:
        load_sample(dataclasses.replace(f, referrals=(Referral("a dog", 5),)), 8)
    assert e.value.reason == "missing_instance"
    # mask of another size than the frames
    write_h5(Path(f.mask_path), [np.zeros((320, 500), np.uint8)] * 2, [0, 1])
    with pytest.raises(DataError, match=r"00008\.h5: mask of instance 0 is 320x500 .*are 320x568") as e:
        load_sample(f, 8)
    assert e.value.reason == "mask_size"
    Path(f.mask_path).write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"00008\.h5: cannot read the mask file") as e:
        load_sample(f, 8)
    assert e.value.reason == "bad_mask"
    g = frames["EadxBPmQvtg", 12]
    Path(g.frames_path).write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match=r"EadxBPmQvtg\.mp4: (cannot decode|the video has no)") as e:
        load_sample(g, 8)
    assert e.value.reason == "corrupt_video"
    Path(g.frames_path).unlink()
    with pytest.raises(DataError, match=r"EadxBPmQvtg\.mp4: video file not found") as e:
        load_sample(g, 8)
    assert e.value.reason == "missing_video"


# ----------------------------------------------------------------------------------------------- J-HMDB

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


@pytest.fixture(scope="module")
def jhmdb_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jhmdb") / "jhmdb_sentences"
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


def test_jhmdb_uniform(jhmdb_root):
    frames = read_jhmdb(str(jhmdb_root))
    assert [(f.video_id, f.frame_number, f.num_frames) for f in frames] == [
        (PULLUP, 1, 20), (PULLUP, 11, 20), (PULLUP, 20, 20), (BRUSH, 1, 12), (BRUSH, 7, 12), (BRUSH, 12, 12)]
    assert {f.split for f in frames} == {"test"} and {f.dataset for f in frames} == {"jhmdb"}
    assert frames[3].referrals == (Referral("a woman is combing her hair", 0, frames[3].referrals[0].line),)
    assert frames[3].referrals[0].line.endswith("jhmdb_annotation.txt:3")
    assert frames[0].mask_path == str(jhmdb_root / "puppet_mask" / "pullup" / PULLUP / "puppet_mask.mat")
    for f in frames:
        s = load_sample(f, 8)
        assert s.masks[0].shape == (240, 320) and (s.height, s.width) == (240, 320)
        np.testing.assert_array_equal(s.masks[0], jhmdb_mask(f.video_id, f.frame_number))
        np.testing.assert_array_equal(frame_values(s.frames), (np.arange(s.frames.shape[0]) + s.first_index + 1) * 10)
        assert s.first_index + s.center + 1 == f.frame_number
        assert s.first_index + s.frames.shape[0] <= f.num_frames  # clamped to usable frames (12 < 15 PNGs)
    assert not load_sample(frames[4], 4).masks[0].any()  # the all-zero frame
    assert uniform_frames(12, 3) == [1, 7, 12] and uniform_frames(2, 3) == [1, 2]


def test_jhmdb_metadata(jhmdb_root):
    frames = read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(jhmdb_root / "metadata.json"))
    assert [(f.video_id, f.frame_number) for f in frames] == [
        (PULLUP, 2), (PULLUP, 9), (PULLUP, 17), (BRUSH, 3), (BRUSH, 7), (BRUSH, 12)]
    assert frames[3].frames_path == str(jhmdb_root / "Rename_Images" / "brush_hair" / BRUSH)
    assert frames[3].referrals[0].sentence == "a woman is combing her hair"
    s = load_sample(frames[2], 16)
    np.testing.assert_array_equal(s.masks[0], jhmdb_mask(PULLUP, 17))
    assert s.frames[s.center].mean() == 170
    with pytest.raises(ValueError, match="needs metadata_path"):
        read_jhmdb(str(jhmdb_root), frames="metadata")


def test_jhmdb_metadata_errors(jhmdb_root, tmp_path):
    entries = json.loads((jhmdb_root / "metadata.json").read_text())
    bad = [list(e) for e in entries]
    bad[1][1] = f"./jhmdb_sentences/Rename_Images/pullup/../../../etc/00001.png"
    bad[4][1] = bad[4][1].replace("00007.png", "00014.png")  # past the 12 usable frames
    p = tmp_path / "meta.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"meta\.json\[1\]: field 'png_path'") as e:
        read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(p))
    assert e.value.reason == "bad_path"
    skipped = []
    frames = read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(p), skip_bad=True, skipped=skipped)
    assert [(f.video_id, f.frame_number) for f in frames] == [(PULLUP, 2), (PULLUP, 17), (BRUSH, 3), (BRUSH, 12)]
    assert [(s.reason, s.source.rsplit("/", 1)[-1]) for s in skipped] == [("bad_path", "meta.json[1]"),
                                                                          ("short_video", "meta.json[4]")]
    p.write_text(json.dumps([["a", "b"]]))
    with pytest.raises(DataError, match=r"meta\.json\[0\]: entry is"):
        read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(p))


def test_jhmdb_annotation_errors(jhmdb_root, tmp_path):
    root = tmp_path / "j"
    shutil.copytree(jhmdb_root, root)
    ann = root / "jhmdb_annotation.txt"
    lines = ann.read_text().splitlines()
    write_lines(ann, lines + ["no_such_video,a man", "x,y,z", f"{PULLUP},  "])
    with pytest.raises(DataError, match=r"jhmdb_annotation\.txt:5: expected 2 columns"):
        read_jhmdb(str(root))
    skipped = []
    frames = read_jhmdb(str(root), skip_bad=True, skipped=skipped)
    assert len(frames) == 6
    assert [s.reason for s in skipped] == ["bad_row", "empty_sentence", "missing_video"]
    assert skipped[2].source.endswith("jhmdb_annotation.txt:4")
    with pytest.raises(ValueError, match="frames is 'random'"):
        read_jhmdb(str(root), frames="random")


def test_read_png_frames_errors(jhmdb_root):
    folder = jhmdb_root / "Rename_Images" / "brush_hair" / BRUSH
    assert read_png_frames(str(folder), [15, 1]).reshape(2, -1).mean(1).tolist() == [150, 10]
    with pytest.raises(DataError, match=r"00016\.png: frame 16 not found"):
        read_png_frames(str(folder), [16])


# ----------------------------------------------------------------------------------------------- real files


def test_real_a2d_annotations(tmp_path):
    rows = read_a2d_annotations(str(FIXTURES / "a2d_annotation.reconstructed.txt"))
    assert len(rows) == 6654 and len({r.video_id for r in rows}) == 3754
    assert all(r.sentence == " ".join(r.sentence.split()) and r.sentence == r.sentence.lower() for r in rows)
    bcmkc = read_a2d_annotations(str(FIXTURES / "a2d_annotation.BCMKC_with_short_query.txt"))
    assert [(r.video_id, r.instance_id, r.sentence) for r in bcmkc] == [(r.video_id, r.instance_id, r.sentence)
                                                                        for r in rows]
    with open(FIXTURES / "a2d_split.derived.csv") as f:
        split = {r["video_id"]: int(r["usage"]) for r in csv.DictReader(f)}
    vs = tmp_path / "videoset.csv"
    write_lines(vs, [f"{v},11,0,5,320,568,100,3,{u}" for v, u in split.items()])
    videoset = read_videoset(str(vs))
    assert Counter(videoset.values()) == {"train": 3017, "test": 737}
    per_split = Counter(videoset[r.video_id] for r in rows)
    assert per_split == {"train": 5359, "test": 1295}


def test_real_a2d_test_samples(tmp_path):
    """Sample construction (§2.8) on the real test sentences gives the standard 3800 test samples."""
    root = tmp_path / "a2d"
    (root / "Release" / "clips320H").mkdir(parents=True)
    text = root / "text_annotations"
    text.mkdir()
    shutil.copy(FIXTURES / "a2d_annotation.reconstructed.txt", text / "a2d_annotation.txt")
    write_lines(text / "a2d_missed_videos.txt", ["MISSED00001"])
    with open(FIXTURES / "a2d_split.derived.csv") as f:
        split = {r["video_id"]: int(r["usage"]) for r in csv.DictReader(f)}
    write_lines(root / "Release" / "videoset.csv",
                [f"{v},11,0,5,320,568,100,3,{u}" for v, u in split.items()] + ["MISSED00001,11,0,5,320,568,100,0,1"])
    instances: dict = {}
    with open(FIXTURES / "a2d_test_frame_instance_pairs.derived.csv") as f:
        for r in csv.DictReader(f):
            instances.setdefault((r["video_id"], int(r["frame_idx"])), []).append(int(r["instance_id"]))
    for (vid, frame), inst in instances.items():
        folder = text / "a2d_annotation_with_instances" / vid
        if not folder.is_dir():
            folder.mkdir(parents=True)
            (root / "Release" / "clips320H" / f"{vid}.mp4").touch()  # existence only: read_a2d does not decode
        with h5py.File(folder / f"{frame:05d}.h5", "w") as h:
            h.create_dataset("instance", data=np.array(sorted(inst), np.int64))
    frames = read_a2d(str(root), split="test")
    assert len(frames) == 2342 and len({f.video_id for f in frames}) == 737
    assert sum(len(f.referrals) for f in frames) == 3800
    assert len({r.line for f in frames for r in f.referrals}) == 1295


def test_real_jhmdb_files():
    rows = read_jhmdb_annotations(str(FIXTURES / "jhmdb_annotation.reconstructed.txt"))
    assert len(rows) == 928 and len({r[0] for r in rows}) == 928
    entries = read_jhmdb_metadata(str(FIXTURES / "jhmdb_sentences_samples_metadata.json"))
    assert len(entries) == 2784 and len({e[0] for e in entries}) == 928
    for i, (vid, png, mat, usable, _) in enumerate(entries):
        p = rebase_metadata_path("/data/jhmdb_sentences", png, "Rename_Images", f"meta[{i}]", "png_path")
        assert p.startswith("/data/jhmdb_sentences/Rename_Images/") and f"/{vid}/" in p
        rebase_metadata_path("/data/jhmdb_sentences", mat, "puppet_mask", f"meta[{i}]", "mat_path")
        assert 1 <= int(os.path.basename(p)[:5]) <= usable
