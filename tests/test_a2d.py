"""acga_tf/data/a2d.py: reading A2D Sentences (annotation rows, videoset, instance files), on the hand-written tree
of dataset_files (docs/data.md#datasets) and on the real annotation files of shared/fixtures/annotations."""

import csv
import shutil
from collections import Counter

import h5py
import numpy as np
import pytest
from dataset_files import ANNOTATION, FIXTURES, SPLITS, WIDTHS, expected, summary, write_lines

from acga_tf.data.a2d import read_a2d, read_a2d_annotations, read_instance_list, read_videoset
from acga_tf.data.types import DataError, Skipped


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
    ("EadxBPmQvtg,1,   ", "empty_sentence", r"a2d_annotation\.txt:9: column 'query' has no word"),
    ("EadxBPmQvtg,1,?! ... --", "empty_sentence", r"a2d_annotation\.txt:9: column 'query' has no word"),
    ("ZZZZZZZZZZZ,0,a dog", "unknown_video", r"a2d_annotation\.txt:9: column 'video_id' is 'ZZZZZZZZZZZ', not listed"),
    ("../../etc,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id' is '\.\./\.\./etc'"),
    ("a\\b,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id'"),
    ("ab\x00c,0,a dog", "bad_path", r"a2d_annotation\.txt:9: field 'video_id'"),
    (b"EadxBPmQvtg,1,caf\xe9 dog", "bad_encoding", r"a2d_annotation\.txt:9: line is not valid UTF-8"),
    # a 100 MB sentence took `acga prepare` past 4 GB of memory before any check
    ("EadxBPmQvtg,1," + "a dog " * 20000, "bad_row", r"a2d_annotation\.txt:9: line is 120,014 bytes long, more than "
                                                     r"the 65,536 an annotation line may have"),
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
    # a header line is named as such (it was "column 8 'usage' is 'usage'", a bad row, a reviewer's)
    with pytest.raises(DataError, match=r"videoset\.csv:1: a header line \('video_id,label,.*,usage'\): videoset\.csv "
                                        r"has none, its first line is a video's; remove the header") as e:
        read_a2d(str(a2d_copy))
    assert e.value.reason == "bad_header"
    # a first row's typo in its usage is no header (a mends reviewer's: "remove the header" of a video's row)
    write_lines(vs, [f"{v},48,0,4,360,640,24,3,{'O' if v == '--h5fAKYurM' else u}" for v, u in SPLITS.items()])
    with pytest.raises(DataError, match=r"videoset\.csv:1: column 8 'usage' is 'O', expected 0 \(train\) or 1"):
        read_a2d(str(a2d_copy))
    write_lines(vs, [f"{v},48,0,4,360,640,24,3,{u}" for v, u in SPLITS.items()] + ["XYZ,1,2"])
    with pytest.raises(DataError, match=r"videoset\.csv:5: expected 9 comma-separated columns"):
        read_a2d(str(a2d_copy))
    skipped = []
    assert summary(read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)) == expected(set(WIDTHS))
    assert skipped == [Skipped(str(vs) + ":5", "bad_row", skipped[0].message)]


def test_a2d_hidden_files_are_passed_over_and_a_frame_number_given_twice_is_refused(a2d_copy):
    """A copy from a Mac holds "._00008.h5" beside each frame file (AppleDouble): passed over (it stopped the run as
    "not a frame number"); "8.h5" beside "00008.h5" is the same frame, whose samples were written twice (a
    reviewer's): refused naming both, left out with --skip-bad."""
    folder = a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg"
    (folder / "._00008.h5").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    assert summary(read_a2d(str(a2d_copy))) == expected(set(WIDTHS))
    shutil.copy(folder / "00008.h5", folder / "8.h5")
    with pytest.raises(DataError, match=r"EadxBPmQvtg/8\.h5: frame 8 again: 00008\.h5 is that frame too") as e:
        read_a2d(str(a2d_copy))
    assert e.value.reason == "bad_frame_file"
    skipped = []
    assert summary(read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)) == expected(set(WIDTHS))
    assert [s.reason for s in skipped] == ["bad_frame_file"]


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


def test_a2d_class_ids_are_the_instances_own(a2d_copy):
    """Each sentence's actor-action id (docs/evaluation.md#by-class) is the `id` field's value at its instance's
    position in `instance` (the first, as its mask: EadxBPmQvtg's frame 8 lists an instance twice); a frame whose
    `id` is missing, of another count than its masks or not A2D's ids keeps its samples, with class 0, since the
    benchmark's scores do not use it."""
    frames = read_a2d(str(a2d_copy))
    for frame in frames:
        with h5py.File(frame.mask_path, "r") as f:
            instance, classes = list(np.asarray(f["instance"]).reshape(-1)), np.asarray(f["id"]).reshape(-1)
        for referral in frame.referrals:
            assert referral.class_id == int(classes[instance.index(referral.instance_id)]) > 0
    assert len({r.class_id for f in frames for r in f.referrals}) > 1  # the fixture's ids differ by position
    folder = a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg"
    masks = read_instance_list(folder / "00016.h5")[1]

    def replaced(values):
        def change(f):
            del f["id"]
            f.create_dataset("id", data=np.array([values], np.float64))
        return change

    # a QA tester's odd fields: fewer or more values than masks (which is whose?), ids outside A2D's actors 1 to 7
    # and actions 1 to 9 (10 and 7 were counted as "adult" and "running", 95 as "actor 9"), a fraction
    for values in ([11] * (masks - 1), [11] * (masks + 1), [10] * masks, [7] * masks, [95] * masks, [11.5] * masks):
        with h5py.File(folder / "00016.h5", "r+") as f:
            replaced(values)(f)
        assert read_instance_list(folder / "00016.h5")[2] == [], values
    with h5py.File(folder / "00016.h5", "r+") as f:
        replaced([79] * masks)(f)  # dog, none: the last of each
    assert read_instance_list(folder / "00016.h5")[2] == [79] * masks
    for name, change in (("00008.h5", lambda f: f.__delitem__("id")),
                         ("00012.h5", lambda f: f["id"].write_direct(np.array([[11.5] * f["id"].shape[1]])))):
        with h5py.File(folder / name, "r+") as f:
            change(f)
    assert read_instance_list(folder / "00008.h5")[2] == read_instance_list(folder / "00012.h5")[2] == []
    again = {f.frame_number: f for f in read_a2d(str(a2d_copy), split="test")}
    assert {r.class_id for number in (8, 12) for r in again[number].referrals} == {0}
    assert [r.sentence for r in again[8].referrals] == [r.sentence for f in frames if f.key == "EadxBPmQvtg/00008"
                                                        for r in f.referrals]


def test_a2d_bad_h5(a2d_copy):
    bad = a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg" / "00012.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError, match=r"EadxBPmQvtg/00012\.h5: cannot read field 'instance'") as e:
        read_a2d(str(a2d_copy), split="test")
    assert e.value.reason == "bad_mask"
    skipped = []
    frames = read_a2d(str(a2d_copy), split="test", skip_bad=True, skipped=skipped)
    assert [f.frame_number for f in frames] == [8, 16] and skipped[0].reason == "bad_mask"


def test_real_a2d_annotations(tmp_path, real_annotations):
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


def test_real_a2d_test_samples(tmp_path, real_annotations):
    """Sample construction (docs/data.md#datasets) on the real test sentences gives the standard 3800 test samples."""
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


def test_a2d_duplicate_row(a2d_copy):
    """A row repeating an earlier one's video, instance and sentence (a merged or edited copy) would be stored,
    trained on and scored twice under one sample id: refused, naming both rows (listed with --skip-bad)."""
    ann = a2d_copy / "text_annotations" / "a2d_annotation.txt"
    write_lines(ann, ANNOTATION + ["EadxBPmQvtg,1,A man in black is  standing on the left side"])
    with pytest.raises(DataError, match=r"a2d_annotation\.txt:9: the same video, instance and sentence as "
                                        r".*a2d_annotation\.txt:8") as e:
        read_a2d(str(a2d_copy))
    assert e.value.reason == "duplicate_row"
    skipped = []
    assert summary(read_a2d(str(a2d_copy), skip_bad=True, skipped=skipped)) == expected(set(WIDTHS))
    assert [s.reason for s in skipped] == ["duplicate_row"]
    write_lines(ann, ANNOTATION + ['EadxBPmQvtg,1,"the man, in black"'])
    with pytest.raises(DataError, match=r"got 4 \(fields are not quoted: a comma in a sentence splits it\)"):
        read_a2d(str(a2d_copy))


def test_a2d_instance_without_mask_loses_only_its_sentence(a2d_copy):
    """A frame listing an instance that has no mask (fewer masks than ids) drops that sentence alone; before, every
    sentence of the frame was lost with it."""
    from dataset_files import make_mask, write_h5

    h5 = a2d_copy / "text_annotations" / "a2d_annotation_with_instances" / "EadxBPmQvtg" / "00008.h5"
    write_h5(h5, [make_mask("EadxBPmQvtg", 8, 0)], [0, 1])  # instance 1 listed, one mask
    with pytest.raises(DataError, match=r"00008\.h5: field 'reMask' has 1 masks, no mask for instance 1 \(position 1"
                                        r".*a2d_annotation\.txt:8") as e:
        read_a2d(str(a2d_copy), split="test")
    assert e.value.reason == "missing_instance"
    skipped = []
    frames = read_a2d(str(a2d_copy), split="test", skip_bad=True, skipped=skipped)
    assert [(f.frame_number, [r.instance_id for r in f.referrals]) for f in frames] == [(8, [0]), (12, [1]),
                                                                                          (16, [0, 1])]
    assert [s.reason for s in skipped] == ["missing_instance"]


def test_a2d_sentence_without_frame_is_listed(a2d_copy, caplog):
    """A sentence whose instance no frame lists gives no sample: not an error, but warned and listed ("no_frame"),
    so that the counts add up; before, it vanished without a word."""
    ann = a2d_copy / "text_annotations" / "a2d_annotation.txt"
    write_lines(ann, ANNOTATION + ["EadxBPmQvtg,5,the dog nobody annotated"])
    skipped = []
    with caplog.at_level("WARNING"):
        frames = read_a2d(str(a2d_copy), skipped=skipped)  # without skip_bad
    assert summary(frames) == expected(set(WIDTHS))
    assert [(s.source.rsplit("/", 1)[-1], s.reason) for s in skipped] == [("a2d_annotation.txt:9", "no_frame")]
    assert "instance 5 of video 'EadxBPmQvtg' is in no frame's 'instance' list" in caplog.text
