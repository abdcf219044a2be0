"""acga_tf/data/jhmdb.py: reading J-HMDB Sentences (annotation rows, uniform or metadata frames), on the
hand-written tree of dataset_files and on the real files of shared/fixtures/annotations."""

import json
import os
import shutil

import numpy as np
import pytest
from dataset_files import BRUSH, FIXTURES, PULLUP, frame_values, jhmdb_mask, write_lines

from acga_tf.cli import main
from acga_tf.data.jhmdb import (
    read_jhmdb,
    read_jhmdb_annotations,
    read_jhmdb_metadata,
    rebase_metadata_path,
    uniform_frames,
)
from acga_tf.data.types import DataError, Referral
from acga_tf.data.video import load_sample


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
    bad[1][1] = "./jhmdb_sentences/Rename_Images/pullup/../../../etc/00001.png"
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
    # A row repeating an earlier one's video and sentence (spaces and case aside) would be scored twice under one
    # sample id: refused naming both rows, left out with --skip-bad
    video, sentence = lines[1].split(",")
    write_lines(ann, lines + [f"{video},  {sentence.upper()} "])
    with pytest.raises(DataError, match=r"jhmdb_annotation\.txt:4: the same video and sentence as "
                                        r".*jhmdb_annotation\.txt:2\n") as e:
        read_jhmdb(str(root))
    assert e.value.reason == "duplicate_row"
    skipped = []
    assert len(read_jhmdb(str(root), skip_bad=True, skipped=skipped)) == 6
    assert [s.reason for s in skipped] == ["duplicate_row"]
    with pytest.raises(ValueError, match="frames is 'random'"):
        read_jhmdb(str(root), frames="random")


def test_a_matlab_73_mask_file_is_named_as_such(jhmdb_root, tmp_path):
    """A puppet_mask.mat re-saved as MATLAB v7.3 (HDF5 behind a 512-byte user block that starts with MATLAB's
    128-byte header) is named as such; before, SciPy's advice to programmers: "Please use HDF reader ..."."""
    import h5py

    root = tmp_path / "j"
    shutil.copytree(jhmdb_root, root)
    (mat,) = (root / "puppet_mask").glob(f"*/{PULLUP}/puppet_mask.mat")
    mat.unlink()
    with h5py.File(mat, "w", userblock_size=512) as f:
        f.create_dataset("part_mask", data=np.zeros((12, 320, 240), np.uint8))  # MATLAB's (H, W, T), reversed
    with open(mat, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + bytes(8) + b"\x00\x02IM")
    with pytest.raises(DataError, match=r"puppet_mask\.mat: a MATLAB v7\.3 \(HDF5\) \.mat file, which is not read: "
                                        r"J-HMDB's puppet_mask\.mat files are MATLAB v5") as e:
        read_jhmdb(str(root))
    assert e.value.reason == "bad_mask"


def test_real_jhmdb_files(real_annotations):
    rows = read_jhmdb_annotations(str(FIXTURES / "jhmdb_annotation.reconstructed.txt"))
    assert len(rows) == 928 and len({r[0] for r in rows}) == 928
    entries = read_jhmdb_metadata(str(FIXTURES / "jhmdb_sentences_samples_metadata.json"))
    assert len(entries) == 2784 and len({e[0] for e in entries}) == 928
    for i, (vid, png, mat, usable, _) in enumerate(entries):
        p = rebase_metadata_path("/data/jhmdb_sentences", png, "Rename_Images", f"meta[{i}]", "png_path")
        assert p.startswith("/data/jhmdb_sentences/Rename_Images/") and f"/{vid}/" in p
        rebase_metadata_path("/data/jhmdb_sentences", mat, "puppet_mask", f"meta[{i}]", "mat_path")
        assert 1 <= int(os.path.basename(p)[:5]) <= usable


def test_prepare_keeps_an_empty_mask_and_says_so(jhmdb_root, a2d_shards, tmp_path, capsys, caplog):
    # The benchmark scores a sample whose actor has no pixel (J-HMDB's puppet masks have such frames); a converter
    # that kept it without a word left the user to find it in the scores (docs/data.md#datasets).
    out = tmp_path / "out"
    assert main(["prepare", "jhmdb", "--root", str(jhmdb_root), "--output", str(out), "--no-progress",
                 "--vocabulary", str(a2d_shards / "vocab.txt")]) == 0
    assert "jhmdb test: 6 samples (6 annotated frames) in 1 shard, 0 skipped, 1 with an empty mask (kept) -> " \
        in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["splits"]["test"]["empty_masks"] == 1
    assert any("jhmdb test: 1 sample has an empty mask" in r.getMessage() for r in caplog.records)


def test_the_frames_chosen_are_recorded_and_metadata_alone_chooses_mttrs(jhmdb_root, a2d_shards, tmp_path, capsys):
    """A reviewer's: `--metadata FILE` without `--frames metadata` was passed over (the uniform frames converted,
    unsaid), and nothing recorded which frames a conversion took (docs/evaluation.md#protocol: say which)."""
    import hashlib

    out = tmp_path / "out"
    argv = ["prepare", "jhmdb", "--root", str(jhmdb_root), "--output", str(out), "--no-progress",
            "--vocabulary", str(a2d_shards / "vocab.txt")]
    assert main(argv) == 0
    split = json.loads((out / "manifest.json").read_text())["splits"]["test"]
    assert split["frame_choice"] == {"rule": "uniform", "frames_per_video": 3, "sentences": "jhmdb_annotation.txt"}
    metadata = jhmdb_root / "metadata.json"
    assert main(argv + ["--metadata", str(metadata)]) == 0
    split = json.loads((out / "manifest.json").read_text())["splits"]["test"]
    assert split["frame_choice"] == {"rule": "metadata", "file": "metadata.json",
                                     "sha256": hashlib.sha256(metadata.read_bytes()).hexdigest()}
    capsys.readouterr()
    assert main(argv + ["--metadata", str(metadata), "--frames", "uniform"]) == 2
    assert capsys.readouterr().err.strip() == ("acga prepare jhmdb: error: --metadata: read only for J-HMDB with "
                                               "--frames metadata (the uniform frames read the sentences of "
                                               "jhmdb_annotation.txt)")
    assert main(argv + ["--frames", "metadata"]) == 2  # the default file, absent: where MTTR's comes from
    assert (f"{jhmdb_root / 'jhmdb_sentences_samples_metadata.json'}: file not found (MTTR's frozen frames: "
            "datasets/jhmdb_sentences/jhmdb_sentences_samples_metadata.json in https://github.com/mttr2021/MTTR; or "
            "the uniform frames: leave out --frames metadata and --metadata)") in capsys.readouterr().err


@pytest.mark.parametrize("case", ["cut", "empty", "struct"])
def test_a_damaged_puppet_mask_is_one_line_and_skip_bad_leaves_its_video_out(jhmdb_root, tmp_path, capsys, case):
    """A reviewer's: a .mat cut short or empty (SciPy's MatReadError) and a `part_mask` saved as a struct ended
    `acga prepare jhmdb` with a traceback, `--skip-bad` or not."""
    import scipy.io

    root = tmp_path / "j"
    shutil.copytree(jhmdb_root, root)
    (mat,) = (root / "puppet_mask").glob(f"*/{PULLUP}/puppet_mask.mat")
    if case == "struct":
        scipy.io.savemat(mat, {"part_mask": {"frames": np.zeros((4, 4, 2), np.uint8)}})
    else:
        mat.write_bytes(mat.read_bytes()[:300] if case == "cut" else b"")
    argv = ["prepare", "jhmdb", "--root", str(root), "--output", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    said = ("field 'part_mask' is a MATLAB struct array, expected numbers (H x W x T)" if case == "struct" else
            "cannot read the .mat file (")
    assert err.startswith(f"acga prepare jhmdb: error: {mat}: {said}") and "\n" not in err, err
    assert main(argv + ["--skip-bad"]) == 0
    assert "jhmdb test: 3 samples (3 annotated frames)" in capsys.readouterr().out


def test_a_frame_missing_inside_a_clip_is_warned_of(jhmdb_root, tmp_path, caplog):
    """A reviewer's: 00005.png lost in copying ended the clip at frame 4 and moved its uniform frames (1, 3, 4 for
    1, 11, 20), without a word."""
    root = tmp_path / "j"
    shutil.copytree(jhmdb_root, root)
    (png,) = (root / "Rename_Images").glob(f"*/{PULLUP}/00005.png")
    png.unlink()
    with caplog.at_level("WARNING"):
        frames = read_jhmdb(str(root))
    assert [f.frame_number for f in frames if f.video_id == PULLUP] == [1, 3, 4]
    assert f"{png.parent}: 00005.png is missing: the 15 frames after it are not used (the video ends at frame 4" \
        in caplog.text


def test_metadata_of_another_extraction_is_warned_of_and_a_whole_float_count_read(jhmdb_root, tmp_path, caplog):
    """A reviewer's: MTTR's entries said 40 usable frames for a clip of 20 and were taken without a word (frames are
    chosen by number: of another extraction of J-HMDB's frames they are other images); `usable_frames` written
    20.0 was refused, though it is 20."""
    entries = json.loads((jhmdb_root / "metadata.json").read_text())
    for entry in entries:
        entry[3] = float(entry[3]) if entry[0] == BRUSH else entry[3] * 2
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(entries))
    with caplog.at_level("WARNING"):
        frames = read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(meta))
    assert len(frames) == 6
    assert (f"{meta}: 1 of 2 videos has another number of usable frames than its entries say ({PULLUP}: 20 here, 40 "
            "there): its frames, chosen by number, may not be the images MTTR's are") in caplog.text
    caplog.clear()
    meta.write_text(json.dumps([[*entry[:3], int(entry[3]) * 2, *entry[4:]] for entry in entries]))
    with caplog.at_level("WARNING"):
        read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(meta))
    assert (f"{meta}: 2 of 2 videos have another number of usable frames than their entries say (") in caplog.text
    assert "there): their frames, chosen by number" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        read_jhmdb(str(jhmdb_root), frames="metadata", metadata_path=str(jhmdb_root / "metadata.json"))
    assert "usable frames" not in caplog.text
