"""Your own data (`acga prepare custom`, acga_tf/data/custom.py, docs/data.md#your-own-data). An own-data tester
found no documented way to train on anything but A2D and J-HMDB: they wrote A2D's nine-column videoset, its
annotation file and MATLAB-transposed HDF5 masks by hand, and their colour and empty masks went in as empty targets
without a word."""

import csv
import json
import os
import re

import numpy as np
import pytest
from dataset_files import frame_values, write_video
from PIL import Image

from acga_tf.cli import main
from acga_tf.data import make_dataset
from acga_tf.data.custom import read_custom
from acga_tf.data.types import DataError
from acga_tf.data.video import load_samples, read_mask_image
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.config import ACGAConfig

H, W = 48, 64


def _mask(frame: int, position: int) -> np.ndarray:
    """A distinct, non-symmetric (H, W) 0/1 mask: wrong if transposed or taken from another frame."""
    m = np.zeros((H, W), np.uint8)
    y, x = 4 + 12 * position + frame % 5, 6 + 20 * position + frame % 7
    m[y:y + 8, x:x + 14] = 1
    m[y, x + 14:x + 18] = 1
    return m


def _table(path, rows, header=("video", "frame", "query", "mask", "split")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def own(tmp_path):
    """Three videos (frame t filled with t * 10) in a folder with spaces and accents, masks as a user saves them:
    0/255 greyscale, 0/1 greyscale, a palette PNG holding two actors, black and white saved as RGB."""
    root = tmp_path / "my data é"
    (root / "clips").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in ("a", "b", "c"):
        write_video(root / "clips" / f"{name}.mp4", W, n=12, height=H)
    Image.fromarray(_mask(3, 0) * 255).save(root / "masks" / "a3.png")
    Image.fromarray(_mask(9, 0)).save(root / "masks" / "a9.png")  # values 0 and 1
    both = Image.fromarray(_mask(5, 0) + 2 * _mask(5, 1), mode="L").convert("P")
    both.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    both.save(root / "masks" / "b5.png")
    Image.fromarray(np.repeat(_mask(7, 0)[..., None] * 255, 3, axis=2)).save(root / "masks" / "c7.png")
    rows = [("clips/a.mp4", 3, "the red square on the left", "masks/a3.png", "train"),
            ("clips/a.mp4", 9, "the square, moving", "masks/a9.png", "train"),  # a comma, quoted by csv
            ("clips/b.mp4", 5, "the first square", "masks/b5.png", "train", 1),
            ("clips/b.mp4", 5, "the second square", "masks/b5.png", "train", 2),
            ("clips/b.mp4", 5, "the upper square", "masks/b5.png", "train", 1),  # the same actor again
            ("clips/c.mp4", 7, "a square jumping", "masks/c7.png", "TEST")]
    _table(root / "annotations.csv", rows, header=("video", "frame", "query", "mask", "split", "instance"))
    return root


def test_own_videos_and_masks_become_samples_aligned_to_their_frames(own, tmp_path, capsys):
    frames = read_custom(str(own))
    assert [(f.split, f.video_id, f.frame_number, [(r.instance_id, r.sentence) for r in f.referrals])
            for f in frames] == [
        ("train", "clips/a", 3, [(0, "the red square on the left")]),
        ("train", "clips/a", 9, [(0, "the square, moving")]),
        ("train", "clips/b", 5, [(0, "the first square"), (1, "the second square"), (0, "the upper square")]),
        ("test", "clips/c", 7, [(0, "a square jumping")])]
    expected = {("clips/a", 3): [_mask(3, 0)], ("clips/a", 9): [_mask(9, 0)],
                ("clips/b", 5): [_mask(5, 0), _mask(5, 1), _mask(5, 0)], ("clips/c", 7): [_mask(7, 0)]}
    for frame, sample in load_samples(frames, window=4):
        assert not isinstance(sample, Exception), sample
        # the annotated frame is the one filled with (number - 1) * 10: the masks belong to it
        assert abs(frame_values(sample.frames)[sample.center] - (frame.frame_number - 1) * 10) < 2
        for got, want in zip(sample.masks, expected[frame.video_id, frame.frame_number], strict=True):
            np.testing.assert_array_equal(got, want)

    out = tmp_path / "shards"
    assert main(["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "custom train: 5 samples (3 annotated frames)" in printed
    assert "custom test: 1 sample (1 annotated frame) in 1 shard," in printed
    assert json.loads((out / "manifest.json").read_text())["dataset"] == "custom"
    config = ACGAConfig.preset("tiny", image_size=32, clip_length=4)
    (inputs, targets, info), = make_dataset(str(out / "test-*.tfrecord"), config, training=False, batch_size=1,
                                            with_info=True).take(1)
    assert info["sample_id"][0].numpy().decode() == "clips/c/00007/0"
    assert tuple(targets["logits"].shape) == (1, 32, 32, 1) and 0 < float(targets["logits"].numpy().mean()) < 0.5


def test_a_table_outside_the_videos_folder_names_them_by_their_path_from_it(own):
    # docs/data.md#your-own-data: the id is the video's path from the table's folder, `..` included, so that videos of
    # one name in two folders stay apart; an absolute path in the table gives the same id as the relative one.
    (own / "tables").mkdir()
    rows = [("../clips/a.mp4", 3, "the red square", "../masks/a3.png", "train"),
            (str(own / "clips" / "c.mp4"), 7, "a square jumping", str(own / "masks" / "c7.png"), "test")]
    _table(own / "tables" / "annotations.csv", rows)
    assert [(f.video_id, f.frame_number) for f in read_custom(str(own / "tables"))] == [("../clips/a", 3),
                                                                                         ("../clips/c", 7)]


def test_skip_bad_leaves_out_the_sentence_of_a_bad_mask_not_its_frame(own, tmp_path, capsys):
    """A docs tester's: one sentence with a colour mask on a frame of five left out the whole frame, its good sentences
    with it, and skipped.csv named the mask file, not the rows lost. Now that sentence alone is left out, listed by
    its table row; without --skip-bad the error names the row too."""
    table = own / "annotations.csv"
    Image.fromarray(np.stack([np.zeros((H, W), np.uint8), _mask(3, 1) * 255, np.zeros((H, W), np.uint8)],
                             axis=2)).save(own / "masks" / "green.png")
    with open(table, "a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["clips/a.mp4", 3, "the green one", "masks/green.png", "train", ""])
    out = tmp_path / "shards"
    argv = ["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "green.png: a colour image" in err and f"(the row {table}:8) (use --skip-bad" in err, err
    assert main(argv + ["--skip-bad"]) == 0
    assert "custom train: 5 samples (3 annotated frames) in 1 shard, 1 skipped" in capsys.readouterr().out
    with open(out / "skipped.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["source"] == f"{table}:8" and row["reason"] == "bad_mask", row
    assert row["message"].startswith(f"column 'mask': {own / 'masks' / 'green.png'}: a colour image"), row
    config = ACGAConfig.preset("tiny", image_size=32, clip_length=4)
    sentences = [b.decode() for _, _, info in make_dataset(str(out / "train-*.tfrecord"), config, training=False,
                                                             batch_size=8, with_info=True)
                 for b in info["sentence"].numpy()]
    assert sorted(sentences) == sorted(["the red square on the left", "the square, moving", "the first square",
                                        "the second square", "the upper square"])
    # the vocabulary is the written samples' (a reviewer's held "green", and counted "the" once more)
    kept = Vocabulary.load(str(out / "vocab.txt"))
    built = Vocabulary.build(sentences)
    assert (kept.words, kept.counts) == (built.words, built.counts) and "green" not in kept.words


def test_skip_bad_leaves_the_words_of_a_video_it_cannot_read_out_of_the_vocabulary(own, tmp_path, capsys):
    (own / "clips" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with open(own / "annotations.csv", "a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["clips/broken.mp4", 2, "the zebra galloping", "masks/a3.png", "train", ""])
    out = tmp_path / "shards"
    assert main(["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress", "--skip-bad"]) == 0
    assert "1 skipped" in capsys.readouterr().out
    words = Vocabulary.load(str(out / "vocab.txt")).words
    assert "square" in words and not {"zebra", "galloping"} & set(words), words
    # a shard whose marker comes from before the markers listed the sentences left out is written again, not reused
    markers = sorted((out / ".shards").glob("*.json"))  # (the test shard's skipped nothing: it is kept, a diff
    assert len(markers) > 1  # reviewer's KeyError stopped every conversion into a folder written before)
    for marker in markers:
        marker.write_text(json.dumps({k: v for k, v in json.loads(marker.read_text()).items()
                                      if k != "left_out_sentences"}))
    assert main(["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress", "--skip-bad"]) == 0
    assert "zebra" not in Vocabulary.load(str(out / "vocab.txt")).words
    assert "(1 of them written before, kept)" in capsys.readouterr().out  # the test shard, which skipped nothing
    assert all("left_out_sentences" in json.loads(m.read_text()) for m in markers if m.name.startswith("train"))


@pytest.mark.parametrize("case", ["colour_mask", "empty_mask", "value_absent", "past_end", "transposed", "frame_zero",
                                  "frame_decimal", "windows_path",
                                  "split_clash", "unknown_column", "missing_mask", "not_utf8", "duplicate_row",
                                  "duplicate_decomposed", "unquoted_comma", "unquoted_comma_before_empty_instance",
                                  "semicolons", "long_query", "instance_zero", "instance_float",
                                  "id_map_without_instance", "class_map_without_instance",
                                  "grey_id_map_without_instance", "jpeg_id_map",
                                  "query_twice", "instance_twice", "short_row", "mask_folder", "not_a_video"])
def test_own_data_mistakes_are_one_line_naming_the_file_and_row(own, tmp_path, capsys, case):
    table, masks = own / "annotations.csv", own / "masks"
    row = ["clips/a.mp4", "3", "the red square", "masks/x.png", "train"]
    header = ("video", "frame", "query", "mask", "split")
    expected = {
        "colour_mask": "x.png: a colour image: save each mask as a greyscale PNG (the actor white, or 1, on black), or "
                       "as a palette PNG with the table's instance column naming the actor's index",
        "empty_mask": "x.png: the mask is empty (no pixel of the actor); a sentence needs its actor in the frame",
        "value_absent": "b5.png: no pixel has the instance value 7 (values in the mask: 0, 1, 2)",
        "past_end": "a.mp4: the video has 12 frames, fewer than annotated frame 30 (the row ",
        "transposed": "x.png: the mask is 64x48 (HxW), the frames of",
        # a labelling team's: masks from `acga predict --output-json` (frames from 0) put back, each one frame late
        "frame_zero": "annotations.csv:2: column 'frame' is '0': the annotated frame's number, 1 for the first frame "
                      "(acga predict's masks JSON and CVAT count frames from 0: add 1 to their numbers)",
        # an own-data tester's table saved by pandas: "is '10.0': the annotated frame's number", and no more
        "frame_decimal": "annotations.csv:2: column 'frame' is '3.0': the annotated frame's number, 1 for the first "
                         "frame (a whole number: a spreadsheet or pandas wrote 10 as 10.0)",
        "split_clash": "annotations.csv:3: column 'split': 'test', but",
        "unknown_column": "annotations.csv:1: unknown column 'instanse'; expected a CSV table with the columns "
                          "video,frame,query,mask,split (and optionally instance)",
        "missing_mask": "annotations.csv:2: column 'mask':",
        "windows_path": "annotations.csv:2: column 'video': ",  # (an own-data tester's table written on Windows)
        "not_utf8": "annotations.csv:2: not UTF-8 text; save the table as UTF-8 CSV",
        # a tester's: a copied row was scored twice; an unquoted comma read the sentence's end as the mask's path
        "duplicate_row": "annotations.csv:3: repeats",
        # an i18n tester's: "carré" typed as "e" and an accent (macOS) was another sentence, trained on twice
        "duplicate_decomposed": "annotations.csv:3: repeats",
        "unquoted_comma": "annotations.csv:2: 6 cells, the header names 5: a cell with a comma in it (a sentence) "
                          "must be quoted",
        # a QA tester's: with an empty instance column last, the sentence's end was read as the mask's path
        "unquoted_comma_before_empty_instance": "annotations.csv:2: 7 cells, the header names 6: a cell with a comma "
                                                "in it (a sentence) must be quoted",
        # a tester's: a table saved with semicolons (a spreadsheet's CSV in some locales) got no hint
        "semicolons": "annotations.csv:1: no column video or frame or query or mask or split in the header "
                      "(video;frame;query;mask;split); expected a CSV table with the columns video,frame,query,mask,"
                      "split (and optionally instance): its columns are separated by ';', not commas",
        # a record with a sentence of 60 MB was scored at a peak of 2.9 GB (the CSV reader allows 128 KB a cell)
        "long_query": "annotations.csv:2: column 'query' is 65,540 bytes long, more than the 65,536 a sentence may "
                      "have",
        # a data engineer's objects counted from 0: the background was the actor
        "instance_zero": "annotations.csv:2: column 'instance' is '0': the actor's pixel value in its mask (1 to "
                         "65535), or empty for the mask's whole foreground (0 is the background of index masks: "
                         "objects count from 1)",
        # an own-data tester's: as a float frame's, the cause said (pandas wrote the column as floats)
        "instance_float": "annotations.csv:2: column 'instance' is '1.0': the actor's pixel value in its mask (1 to "
                          "65535), or empty for the mask's whole foreground (a whole number: a spreadsheet or pandas "
                          "wrote 1 as 1.0)",
        # an id map 0/1/2 without the instance column was "the mask is empty"
        "id_map_without_instance": "x.png: a greyscale id map of 2 objects (values 1, 2): give the table's instance "
                                   "column the value of each row's actor",
        # a class map of one object, 0/15 (VOC's person)
        "class_map_without_instance": "x.png: no pixel is at half the top level or more (its values: 0, 15): a "
                                      "greyscale mask's actor is white (255), or 1 on 0; an id or class map needs "
                                      "the table's instance column naming the actor's value",
        # a data engineer's: an id map of two objects at 128 and 255 was read as their union
        "grey_id_map_without_instance": "x.png: a greyscale id map of 2 objects (values 128, 255): give the table's "
                                        "instance column the value of each row's actor",
        # an id map saved as JPEG: the actor's value kept only away from its edges, the mask read smaller silently
        "jpeg_id_map": "x.jpg: an id map saved as JPEG, read for the pixels of value 2: JPEG's compression changes "
                       "values near every edge, so the actor would lose or gain pixels there; save it as PNG",
        # the second query column was ignored without a word
        "query_twice": "annotations.csv:1: the header names the column query more than once (columns 3 and 6)",
        # a reviewer's: the optional column (which actor's pixels are the mask) was read from its first copy
        "instance_twice": "annotations.csv:1: the header names the column instance more than once (columns 6 and "
                          "7)",
        # an own-data reviewer's row of three cells was "column 'mask' is empty"
        "short_row": "annotations.csv:2: 3 cells, the header names 5: the row ends before its mask and split "
                     "columns",
        "mask_folder": "masks is a folder; the mask is one image file of the annotated frame",
        # an own-data reviewer's: the file alone was named, not the row
        "not_a_video": "annotations.csv: not a video FFmpeg can read"}[case]
    rows = [row]
    if case == "colour_mask":  # the actor painted green on black
        Image.fromarray(np.stack([np.zeros((H, W), np.uint8), _mask(3, 0) * 255, np.zeros((H, W), np.uint8)],
                                 axis=2)).save(masks / "x.png")
    elif case in ("empty_mask", "past_end"):
        Image.fromarray(np.zeros((H, W), np.uint8) if case == "empty_mask" else _mask(3, 0) * 255).save(
            masks / "x.png")
        row[1] = "30" if case == "past_end" else row[1]
    elif case == "value_absent":
        header, rows = (*header, "instance"), [["clips/b.mp4", "5", "a square", "masks/b5.png", "train", "7"]]
    elif case == "transposed":
        Image.fromarray(_mask(3, 0).T * 255).save(masks / "x.png")
    elif case == "windows_path":
        row[0], row[3] = "clips\\a.mp4", "masks/a3.png"
    elif case in ("frame_zero", "frame_decimal"):
        row[1], row[3] = "0" if case == "frame_zero" else "3.0", "masks/a3.png"
    elif case == "split_clash":
        Image.fromarray(_mask(3, 0) * 255).save(masks / "x.png")
        rows = [row, ["clips/a.mp4", "9", "a square", "masks/x.png", "test"]]
    elif case == "unknown_column":
        header = (*header, "instanse")
    elif case == "duplicate_row":
        rows = [[*row[:3], "masks/a3.png", "train"]] * 2
    elif case == "duplicate_decomposed":
        rows = [[*row[:2], sentence, "masks/a3.png", "train"] for sentence in ("le carr\u00e9", "le carre\u0301")]
    elif case == "long_query":
        row[2], row[3] = "the man " * 8192 + "wave", "masks/a3.png"
    elif case in ("instance_zero", "instance_float"):
        header, rows = (*header, "instance"), [["clips/b.mp4", "5", "a square", "masks/b5.png", "train",
                                                "0" if case == "instance_zero" else "1.0"]]
    elif case == "id_map_without_instance":
        Image.fromarray(_mask(3, 0) + 2 * _mask(3, 1)).save(masks / "x.png")
    elif case == "class_map_without_instance":
        Image.fromarray(_mask(3, 0) * 15).save(masks / "x.png")
    elif case == "grey_id_map_without_instance":
        Image.fromarray((_mask(3, 0) * 128 + _mask(3, 1) * 255).astype(np.uint8)).save(masks / "x.png")
    elif case == "jpeg_id_map":
        Image.fromarray((_mask(3, 0) + 2 * _mask(3, 1)).astype(np.uint8)).save(masks / "x.jpg", quality=95)
        header, rows = (*header, "instance"), [[*row[:3], "masks/x.jpg", "train", "2"]]
    elif case == "not_a_video":
        row[0], row[3] = "annotations.csv", "masks/a3.png"
    elif case == "mask_folder":  # (it was "masks not found", of a folder that exists)
        row[3] = "masks"
    elif case == "short_row":
        rows = [row[:3]]
    elif case == "unquoted_comma":
        rows = [["clips/a.mp4", "3", "the red square", "moving", "masks/a3.png", "train"]]
    elif case == "instance_twice":
        header, rows = (*header, "instance", "Instance"), [[*row[:3], "masks/b5.png", "train", "1", "2"]]
    elif case == "query_twice":
        header, rows = (*header, "Query"), [[*row[:3], "masks/a3.png", "train", "the blue square"]]
    elif case == "unquoted_comma_before_empty_instance":
        header, rows = (*header, "instance"), [["clips/a.mp4", "3", "the red square", " moving", "masks/a3.png",
                                                "train", ""]]
    if case == "semicolons":
        table.write_text(";".join(header) + "\n" + ";".join(row) + "\n")
    elif case != "not_utf8":
        _table(table, rows, header)
    else:
        table.write_bytes(b"video,frame,query,mask,split\nclips/a.mp4,3,the caf\xe9 square,masks/a3.png,train\n")
    out = tmp_path / "shards"
    assert main(["prepare", "custom", "--root", str(table), "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    if case == "not_a_video":
        assert f"(the row {table}:2) (use --skip-bad" in err, err
    if case == "short_row":  # a row of its own: --skip-bad leaves it out, the good row converted (a diff reviewer's:
        # refused in the table's reading, the whole table stopped)
        _table(table, [["clips/a.mp4", "3", "the red square", "masks/a3.png", "train"], row[:3]])
        assert main(["prepare", "custom", "--root", str(table), "--output", str(tmp_path / "skipping"),
                     "--no-progress", "--skip-bad"]) == 0
        with open(tmp_path / "skipping" / "skipped.csv", newline="") as f:
            (skipped,) = list(csv.DictReader(f))
        assert skipped["source"] == f"{table}:3" and skipped["reason"] == "bad_row", skipped
        assert skipped["message"] == "3 cells, the header names 5: the row ends before its mask and split columns"
    if case == "windows_path":
        assert err.endswith("clips\\a.mp4 not found (a Windows path? separate its folders with /)"), err
    if case == "past_end":  # a tester's: the message named the files only, not the table's row
        assert f"(the row {table}:2)" in err, err
    assert not list(out.glob("*.tfrecord"))  # nothing written


def test_mask_images_as_editors_save_them(tmp_path):
    """The mask rule of docs/data.md#your-own-data on what editors write: antialiased or JPEG-noisy greys go to the
    nearer side, a 16-bit mask's half level, 1-bit images as they are."""
    grey = (_mask(2, 0) * 200 + 20).astype(np.uint8)  # foreground 220, background 20: a JPEG's levels
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(_mask(2, 0).astype(np.uint16) * 65535).save(tmp_path / "deep.png")
    Image.fromarray(_mask(2, 0).astype(bool)).convert("1").save(tmp_path / "bits.png")
    for name in ("grey.png", "deep.png", "bits.png"):
        np.testing.assert_array_equal(read_mask_image(str(tmp_path / name)), _mask(2, 0), err_msg=name)


def test_a_greyscale_id_map_of_a_large_and_a_small_object_is_refused_without_instance(tmp_path):
    """An own-data reviewer's person (6,300 pixels) and ball (8 x 8) at two grey values, no instance column: a value
    counted as an object only with a tenth of the foreground, so the ball was taken into the person's mask (128 and
    255, either way round), or was the mask alone (100 and 200). A region of its own of any size counts; an
    antialiased edge's ring of greys still does not."""
    for big, small, values, left in ((128, 255, "128, 255", 120), (255, 128, "128, 255", 120),
                                     (100, 200, "100, 200", 120), (255, 128, "128, 255", 80)):  # (80: touching:
        pixels = np.zeros((120, 160), np.uint8)  # a ball held, a mends reviewer's, merged again by a first mend)
        pixels[10:100, 10:80] = big  # 6,300 pixels
        pixels[50:58, left:left + 8] = small  # 64
        pixels[53, left + 3] = 200 if small == 128 else small  # (a stray brighter pixel inside it hid it)
        Image.fromarray(pixels).save(tmp_path / "ids.png")
        with pytest.raises(DataError, match=rf"a greyscale id map of 2 objects \(values {values}\): give the table's "
                                            "instance column"):
            read_mask_image(str(tmp_path / "ids.png"))
    # masks of one actor whose greys lie against a brighter value (a diff reviewer's, refused by size alone): an
    # antialiased one-pixel ring, a 3-pixel outline, a feathered edge of 8 levels, a trimap's band, a patch inside
    # (a band of a tenth of the foreground or more, with pixels inside it, is an object, as before)
    actor = np.zeros((120, 160), np.uint8)
    actor[10:110, 10:150] = 255
    ring, outline, trimap, patch = actor.copy(), actor.copy(), actor.copy(), actor.copy()
    ring[9:111, 9:151], outline[7:113, 7:153], trimap[2:118, 2:158] = 128, 128, 128  # (the trimap's band: 23%)
    ring[10:110, 10:150] = outline[10:110, 10:150] = trimap[10:110, 10:150] = 255
    patch[40:48, 40:48] = 250
    yy, xx = np.mgrid[:120, :160]
    feathered = (np.round(np.clip((40 - np.hypot(yy - 60, xx - 80)) / 8, 0, 1) * 7) * (255 / 7)).astype(np.uint8)
    for name, mask in (("ring", ring), ("outline", outline), ("trimap", trimap), ("patch", patch),
                       ("feathered", feathered)):
        Image.fromarray(mask).save(tmp_path / f"{name}.png")
        np.testing.assert_array_equal(read_mask_image(str(tmp_path / f"{name}.png")), (mask >= 128).astype(np.uint8),
                                      err_msg=name)
    assert len(np.unique(feathered)) == 8


def test_masks_that_were_read_wrong_without_a_word(tmp_path):
    """A data engineer's annotation exports, stored wrong before: a cut-out (the actor's shape in the alpha channel,
    the colour flat) was the whole frame; a black-and-white palette PNG with white at index 0 (Pillow's
    `quantize(2)`) was the background; a DAVIS mask of two objects gave every sentence both; hidden white pixels
    under a transparent strip were the actor."""
    shape = _mask(2, 0)

    def save(name, array, mode=None, palette=None):
        image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
        if palette is not None:
            image.putpalette(palette + [0] * (768 - len(palette)))
        image.save(tmp_path / name)
        return str(tmp_path / name)

    white = np.full((H, W), 255, np.uint8)
    cut_out = save("cut_out.png", np.dstack([white, white, white, shape * 255]))
    black_cut_out = save("black_cut_out.png", np.dstack([white * 0, shape * 255]), "LA")
    red = np.dstack([shape * 255, shape * 0, shape * 0, shape * 255])  # red where shown, transparent black elsewhere
    red_cut_out = save("red_cut_out.png", red.astype(np.uint8))
    quantized = save("quantized.png", (1 - shape).astype(np.uint8), "P", [255, 255, 255, 0, 0, 0])
    strip = np.full((H, W), 255, np.uint8)
    strip[:, :12] = 0  # transparent: what it hides is not the actor
    hidden = save("hidden.png", np.dstack([shape * 255] * 3 + [strip]))
    for path, want in ((cut_out, shape), (black_cut_out, shape), (red_cut_out, shape), (quantized, shape),
                       (hidden, shape * (strip > 0))):
        np.testing.assert_array_equal(read_mask_image(path), want, err_msg=path)
    davis = [0, 0, 0, 128, 0, 0, 0, 128, 0]
    two = save("two.png", (shape + 2 * _mask(2, 1)).astype(np.uint8), "P", davis)
    np.testing.assert_array_equal(read_mask_image(two, 2), _mask(2, 1))  # named by the instance column: read
    np.testing.assert_array_equal(read_mask_image(save("one.png", shape, "P", davis)), shape)  # one object: read
    # A reviewer's: with index 0 transparent (a tRNS chunk, as some tools save DAVIS's masks), the indices were lost
    # to an RGBA conversion: a frame showing object 2 alone gave its pixels to instance 1, two objects were "colour"
    clear = Image.fromarray((shape + 2 * _mask(2, 1)).astype(np.uint8), "P")
    clear.putpalette(davis + [0] * (768 - len(davis)))
    clear.save(tmp_path / "clear.png", transparency=0)
    for index, want in ((1, shape), (2, _mask(2, 1))):
        np.testing.assert_array_equal(read_mask_image(str(tmp_path / "clear.png"), index), want)
    alone = Image.fromarray((2 * _mask(2, 1)).astype(np.uint8), "P")
    alone.putpalette(davis + [0] * (768 - len(davis)))
    alone.save(tmp_path / "alone.png", transparency=0)
    with pytest.raises(DataError, match="no pixel"):
        read_mask_image(str(tmp_path / "alone.png"), 1)
    # An own-data tester's instance 1 on black-and-white masks: "no pixel has the instance value 1 ... an actor
    # absent from its frame: --keep-absent keeps ...", whose advice stored each present actor as absent
    for name, array in (("white.png", shape * 255), ("deep_white.png", shape.astype(np.uint16) * 65535)):
        Image.fromarray(array).save(tmp_path / name)
        with pytest.raises(DataError, match=r"no pixel has the instance value 1: a mask of one actor \(its pixels "
                                            r"(255|65535) on 0\): leave the row's instance empty") as error:
            read_mask_image(str(tmp_path / name), 1)
        assert error.value.reason == "bad_mask"
    Image.fromarray(shape).save(tmp_path / "ones.jpg", quality=75)  # 0/1 as JPEG: edge 1s rounded to 0, unsaid
    with pytest.raises(DataError, match=r"a mask of 0 and 1 saved as JPEG: JPEG's compression rounds the 1s near its "
                                        r"edges to 0, so the actor loses pixels; save it as PNG"):
        read_mask_image(str(tmp_path / "ones.jpg"))
    Image.fromarray(shape * 0).save(tmp_path / "black.jpg")  # all black: an empty mask, as before (a reviewer's)
    with pytest.raises(DataError, match="the mask is empty") as error:
        read_mask_image(str(tmp_path / "black.jpg"))
    assert error.value.reason == "empty_mask"
    Image.fromarray((2 * shape).astype(np.uint8)).save(tmp_path / "ids.png")  # an id map, object 1 not in the frame
    with pytest.raises(DataError, match=r"no pixel has the instance value 1 \(values in the mask: 0, 2\)") as error:
        read_mask_image(str(tmp_path / "ids.png"), 1)
    assert error.value.reason == "empty_mask"
    refused = {two: "an index mask of 2 objects (indices 1, 2): give the table's instance column the index of each "
                    "row's actor",
               save("inverted.png", (1 - shape).astype(np.uint8), "P", [200, 30, 30, 0, 0, 0]):
                   "palette index 0, the background of an index mask, is the colour (200, 30, 30) and index 1 is "
                   "black: resave it with the background at index 0, or as a greyscale PNG",
               save("class.png", shape * 15): "no pixel is at half the top level or more (its values: 0, 15)"}
    for path, message in refused.items():
        with pytest.raises(DataError) as error:
            read_mask_image(path)
        assert message in str(error.value), (path, str(error.value))


def test_a_folder_of_frames_is_a_video_and_a_sentence_of_two_masks_is_named(own, caplog):
    """A data engineer's folder of frames in the `video` column was "not found" (`acga predict` reads such a folder);
    the same sentence with two masks in one frame was trained on as two answers without a word."""
    folder = own / "clips" / "d frames"
    folder.mkdir()
    for t in range(12):
        Image.fromarray(np.full((H, W, 3), t * 10, np.uint8)).save(folder / f"{t + 1:05d}.png")
    rows = [("clips/d frames", 5, "the red square", "masks/a3.png", "train"),
            ("clips/d frames", 5, "the red square", "masks/a9.png", "train")]
    _table(own / "annotations.csv", rows)
    with caplog.at_level("WARNING", logger="acga_tf.data.custom"):
        (frame,) = read_custom(str(own))
    assert frame.video_id == "clips/d frames"
    assert (f"annotations.csv:3: the same sentence as {own / 'annotations.csv'}:2 in the same frame, with another "
            "mask: 'the red square' names two actors there") in caplog.text
    ((_, sample),) = load_samples([frame], window=4)
    assert not isinstance(sample, Exception), sample
    assert abs(frame_values(sample.frames)[sample.center] - 40) < 1  # frame 5 is the fifth file


def test_paths_written_with_the_other_form_of_their_accents_find_the_files(own, tmp_path):
    """An i18n tester's: a table written on a Mac (NFD: "e" and an accent) for files stored NFC had "not found" for a
    path that looked exactly like the file's."""
    os.rename(own / "clips" / "a.mp4", own / "clips" / "\u00e9t\u00e9.mp4")
    os.rename(own / "masks" / "a3.png", own / "masks" / "\u00e9t\u00e93.png")
    _table(own / "annotations.csv", [("clips/e\u0301te\u0301.mp4", 3, "the square", "masks/e\u0301te\u03013.png",
                                      "train")])
    frames = read_custom(str(own / "annotations.csv"))
    stored = [("clips/\u00e9t\u00e9", "\u00e9t\u00e93.png")]
    assert [(f.video_id, os.path.basename(f.mask_path)) for f in frames] == stored


def test_skipped_rows_are_listed_in_the_table_s_order(tmp_path):
    """A data engineer's skipped.csv listed row 14 before row 2 (sorted as text, by video)."""
    from acga_tf.data.convert import _write_skipped

    table = str(tmp_path / "annotations.csv")
    _write_skipped(str(tmp_path), [[f"{table}:14", "bad_mask", "b"], [f"{table}:2", "bad_mask", "a"],
                                   [f"{table}:3", "short_video", "c"]])
    with open(tmp_path / "skipped.csv", newline="") as f:
        assert [row["source"] for row in csv.DictReader(f)] == [f"{table}:2", f"{table}:3", f"{table}:14"]


def test_skip_bad_lists_a_frame_past_the_video_s_end_by_its_table_row(own, tmp_path):
    """A data engineer's row naming a frame past the video's end was listed in skipped.csv under the video's path, not
    its table row as docs/data.md#your-own-data says."""
    table = own / "annotations.csv"
    with open(table, "a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["clips/a.mp4", 30, "the late square", "masks/a3.png", "train", ""])
    out = tmp_path / "shards"
    assert main(["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress", "--skip-bad"]) == 0
    with open(out / "skipped.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["source"] == f"{table}:8" and row["reason"] == "short_video", row
    assert row["message"] == (f"column 'video': {own / 'clips' / 'a.mp4'}: the video has 12 frames, fewer than "
                              "annotated frame 30"), row


def test_an_annotation_tool_s_own_columns_are_not_read_with_a_warning(own, caplog):
    """A data engineer's export with an `annotator` column was refused ("unknown column"), where A2D's tables' extra
    columns are not; a misspelt known column is still refused (it would be left out without a word)."""
    table = own / "annotations.csv"
    _table(table, [("clips/a.mp4", 3, "the red square", "masks/a3.png", "train", "ana")],
           header=("video", "frame", "query", "mask", "split", "annotator"))
    with caplog.at_level("WARNING", logger="acga_tf.data.custom"):
        (frame,) = read_custom(str(own))
    assert frame.referrals[0].sentence == "the red square"
    assert f"{table}: column 'annotator' not read (expected a CSV table with the columns" in caplog.text
    _table(table, [("clips/a.mp4", 3, "the red square", "masks/a3.png", "train", "1")],
           header=("video", "frame", "query", "mask", "split", "instanse"))
    with pytest.raises(DataError, match="unknown column 'instanse'"):
        read_custom(str(own))


def test_a_folder_of_frames_named_by_other_numbers_takes_a_frames_file_name_only(tmp_path, capsys):
    """Two researchers' Refer-YouTube-VOS and DAVIS folders (every fifth frame named by the source's numbers,
    00000.jpg, 00005.jpg, ...; every frame from 00000.jpg): `5`, `00005`, the docs' "add 1" and a pandas table's
    numbers (00005 read as 5) each took another frame than 00005.jpg, without a word. There a frame is named by its
    file; a number is refused without the --skip-bad hint (the table's other rows are likely off the same way); the
    mask's own folder, or another video's, given with the video are refused."""
    video, masks = tmp_path / "JPEGImages" / "v1", tmp_path / "Annotations" / "v1"
    for folder in (video, masks, tmp_path / "JPEGImages" / "v2", tmp_path / "Annotations" / "v2"):
        folder.mkdir(parents=True)
    for k in range(6):  # frame k filled with k * 10 (`frame_values`), named by the source's number 5 k
        for name in ("v1", "v2"):
            frame = Image.fromarray(np.full((H, W, 3), k * 10, np.uint8))
            frame.save(tmp_path / "JPEGImages" / name / f"{5 * k:05d}.png")
            Image.fromarray(_mask(k, 0) * 255).save(tmp_path / "Annotations" / name / f"{5 * k:05d}.png")
    rows = [("JPEGImages/v1", "00005.png", "the square", "Annotations/v1/00005.png", "train"),
            ("JPEGImages/v1", "00015.png", "the square", "Annotations/v1/00015.png", "train")]
    _table(tmp_path / "annotations.csv", rows)
    annotated = read_custom(str(tmp_path))
    assert [f.frame_number for f in annotated] == [2, 4]  # 00005.png is its 2nd frame, 00015.png its 4th
    for frame, sample in load_samples(annotated, window=2):
        assert frame_values(sample.frames)[sample.center] == pytest.approx((frame.frame_number - 1) * 10, abs=1)
        np.testing.assert_array_equal(sample.masks[0], _mask(frame.frame_number - 1, 0))
    refused = {
        "5": "column 'frame' is '5', but v1's frames are named by other numbers than their places (00000.png is its "
             "frame 1): name the frame by its file; 00005.png is the file numbered 5, its frame 2",
        "00005": "column 'frame' is '00005', but v1's frames are named by other numbers than their places",
        "4": "column 'frame' is '4', but v1's frames are named by other numbers than their places (00000.png is its "
             "frame 1): name the frame by its file",
        "0": "column 'frame' is '0', but v1's frames are named by other numbers than their places (00000.png is its "
             "frame 1): name the frame by its file; 00000.png is the file numbered 0, its frame 1"}
    for cell, message in refused.items():
        _table(tmp_path / "annotations.csv", [("JPEGImages/v1", cell, "the square", "Annotations/v1/00005.png",
                                               "train")])
        with pytest.raises(DataError, match=re.escape(message)):
            read_custom(str(tmp_path))
        assert main(["prepare", "custom", "--root", str(tmp_path), "--output", str(tmp_path / "out"),
                     "--no-progress"]) == 2
        assert "--skip-bad" not in capsys.readouterr().err  # (it left out these rows, and kept the others off)
    # An own-data tester's CVAT export, frame_000000.png, ...: a number was its place, one frame before CVAT's
    cvat = tmp_path / "cvat"
    cvat.mkdir()
    for k in range(6):
        Image.fromarray(np.full((H, W, 3), k * 10, np.uint8)).save(cvat / f"frame_{k:06d}.png")
    _table(tmp_path / "annotations.csv", [("cvat", "3", "the square", "Annotations/v1/00005.png", "train")])
    with pytest.raises(DataError, match=re.escape(
            "column 'frame' is '3', but cvat's frames are named by other numbers than their places (frame_000000.png "
            "is its frame 1): name the frame by its file; frame_000003.png is the file numbered 3, its frame 4")):
        read_custom(str(tmp_path))
    _table(tmp_path / "annotations.csv", [("cvat", "frame_000003.png", "the square", "Annotations/v1/00005.png",
                                           "train")])
    assert [f.frame_number for f in read_custom(str(tmp_path))] == [4]
    for video_cell, mask, message in (
            ("Annotations/v1", "Annotations/v1/00005.png", r"column 'video': .*Annotations/v1 is the folder of the "
                                                           r"row's mask \(00005\.png\): give the folder of the "
                                                           r"video's frames"),
            ("JPEGImages/v1", "Annotations/v2/00005.png", r"column 'mask': .*Annotations/v2/00005\.png is in a folder "
                                                          r"named as another video \(v2\), not as this row's \(v1\)")):
        _table(tmp_path / "annotations.csv", [(video_cell, "00005.png", "the square", mask, "train")])
        with pytest.raises(DataError, match=message):
            read_custom(str(tmp_path))
    # a folder numbered as its places (J-HMDB's 00001.png, ...): numbers are places, as for a video file; its masks
    # in a folder of masks beside it are its own (a reviewer's `root/kitchen` and `root/masks` were refused)
    jhmdb, own_masks = tmp_path / "jhmdb", tmp_path / "masks"
    jhmdb.mkdir()
    own_masks.mkdir()
    for k in range(1, 4):
        Image.fromarray(np.full((H, W, 3), k * 10, np.uint8)).save(jhmdb / f"{k:05d}.png")
    Image.fromarray(_mask(1, 0) * 255).save(own_masks / "jhmdb_2.png")
    _table(tmp_path / "annotations.csv", [("jhmdb", "00002", "the square", "masks/jhmdb_2.png", "train"),
                                          ("jhmdb", "3", "the square", "Annotations/v1/00005.png", "train")])
    assert [f.frame_number for f in read_custom(str(tmp_path))] == [2, 3]


def test_an_actor_absent_from_its_frame_is_kept_as_an_empty_mask_where_asked(tmp_path, capsys):
    """A researcher's Refer-YouTube-VOS objects leave the frame: the palette masks lack their index there, and every
    such row was refused ("no pixel has the instance value 2"), so the benchmark's frames without the object could
    not be scored. `--keep-absent` keeps them as empty masks, as A2D's are."""
    root = tmp_path / "own"
    (root / "masks").mkdir(parents=True)
    write_video(root / "a.mp4", W, n=12, height=H)
    for frame, objects in ((3, (1, 2)), (6, (1,))):  # object 2 has left by frame 6
        index = sum(k * _mask(frame, k - 1) for k in objects).astype(np.uint8)
        image = Image.fromarray(index, mode="L").convert("P")
        image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        image.save(root / "masks" / f"{frame}.png")
    rows = [("a.mp4", 3, "the red square", "masks/3.png", "test", 1),
            ("a.mp4", 3, "the green square", "masks/3.png", "test", 2),
            ("a.mp4", 6, "the red square", "masks/6.png", "test", 1),
            ("a.mp4", 6, "the green square", "masks/6.png", "test", 2)]
    _table(root / "annotations.csv", rows, header=("video", "frame", "query", "mask", "split", "instance"))
    out = tmp_path / "shards"
    argv = ["prepare", "custom", "--root", str(root), "--output", str(out), "--no-progress"]
    assert main(argv) == 2
    assert ("no pixel has the instance value 2 (values in the mask: 0, 1); an actor absent from its frame: "
            "--keep-absent keeps the row as an empty mask (the row") in capsys.readouterr().err
    assert main([*argv, "--keep-absent"]) == 0
    assert "custom test: 4 samples (2 annotated frames) in 1 shard, 0 skipped, 1 with an empty mask (kept)" in \
        capsys.readouterr().out
    frames = read_custom(str(root), keep_absent=True)
    masks = {(f.frame_number, r.sentence): m for f, (_, sample) in zip(frames, load_samples(frames, window=4))
             for r, m in zip(f.referrals, sample.masks)}
    np.testing.assert_array_equal(masks[6, "the green square"], np.zeros((H, W)))
    np.testing.assert_array_equal(masks[3, "the green square"], _mask(3, 1))
    np.testing.assert_array_equal(masks[6, "the red square"], _mask(6, 0))


def test_a_re_run_keeps_train_and_test_apart_and_a_failed_one_keeps_the_last_conversion(own, tmp_path, caplog):
    """A reviewer's three re-runs into one folder, each read without a word before: (1) a video moved from test to
    train stayed in the old test shards, beside its new train ones (the leak `split_clash` exists to prevent); (2) a
    re-run stopped by a bad row had removed the last good conversion's shards first (another shard count), leaving a
    part-written set the old manifest did not describe, which `make_dataset` read; (3) the train split converted with
    another --window than a later test split kept its shards, the manifest's window check no longer theirs."""
    from acga_tf.data.convert import prepare as prepare_data
    from acga_tf.data.datasets import check_shards

    config = ACGAConfig.preset("tiny", image_size=32, clip_length=4)
    out = tmp_path / "shards"
    table = own / "annotations.csv"
    rows = list(csv.reader(table.open(encoding="utf-8")))
    prepare = ["prepare", "custom", "--root", str(own), "--output", str(out), "--no-progress", "--shard-size", "1"]
    assert main(prepare) == 0
    assert sorted(p.name for p in out.glob("test-*")) == ["test-00000-of-00001.tfrecord"]
    # the test split's video missing for now, left out by --skip-bad: its shards kept (a reviewer's were removed)
    (own / "clips" / "c.mp4").rename(own / "c.mp4")
    caplog.clear()
    assert main([*prepare, "--skip-bad"]) == 0
    (own / "c.mp4").rename(own / "clips" / "c.mp4")
    assert sorted(p.name for p in out.glob("test-*")) == ["test-00000-of-00001.tfrecord"]
    assert "no test rows were read, but --skip-bad left 1 item out: the test shards an earlier conversion wrote " \
           "are kept" in caplog.text
    caplog.clear()
    assert main([*prepare, "--window", "6"]) == 0  # every split again, another window: no split named stale
    assert "not in manifest.json" not in caplog.text, caplog.text
    # the test split alone, a train sentence edited: the train shards' vocab.txt is kept (a data engineer's was
    # rebuilt from the table's train rows, no longer those of the shards beside it)
    vocab = (out / "vocab.txt").read_text()
    with open(table, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([[row[0], row[1], "a zebra", *row[3:]] if row[1] == "9" else row for row in rows])
    assert main([*prepare, "--split", "test"]) == 0
    assert (out / "vocab.txt").read_text() == vocab and "zebra" not in vocab
    with open(table, "w", encoding="utf-8", newline="") as f:  # (1) video c moved to train
        csv.writer(f).writerows([row[:4] + ["train"] + row[5:] if row[0] == "clips/c.mp4" else row for row in rows])
    # (the train split alone: c would be in both splits' shards, a data engineer's)
    with pytest.raises(ValueError, match=r"1 video of the table's train split was in the test split of the table its "
                                         r"test shards were converted from \(clips/c\): a video would be in both "
                                         r"splits; convert every split \(no --split\)"):
        prepare_data("custom", str(own), str(out), "train", progress=False, shard_size=1)
    assert main(prepare) == 0
    assert not list(out.glob("test-*"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["splits"]) == ["train"] and manifest["samples"] == 6
    assert "no test rows now: removing the test shards" in caplog.text
    before = sorted(p.name for p in out.glob("train-*"))
    assert before == [f"train-0000{k}-of-00004.tfrecord" for k in range(4)]
    Image.fromarray(np.dstack([_mask(4, 0) * 255, _mask(4, 0) * 0, _mask(4, 0) * 0])).save(own / "masks" / "red.png")
    with open(table, "a", encoding="utf-8", newline="") as f:  # (2) a fifth train frame, its mask refused
        csv.writer(f).writerow(["clips/a.mp4", 4, "the red one", "masks/red.png", "train", ""])
    assert main(prepare) == 2
    assert set(before) <= {p.name for p in out.glob("train-*")}  # the last conversion's shards, kept
    # (the same shard count, a shard replaced in place, read beside the old ones: a reviewer's; another count, the
    # new set's first shards beside the old set)
    with pytest.raises(ValueError, match=r"-of-0000[45].tfrecord: `acga prepare` began converting the train split "
                                         r"again and did not finish \(its shards may be of two conversions\)"):
        check_shards(str(out / "train-*.tfrecord"), config)
    with pytest.raises(ValueError, match="began converting the train split again"):
        make_dataset(str(out / "train-*.tfrecord"), config, training=False, batch_size=1)
    out = tmp_path / "windows"  # (3)
    _table(table, rows[1:], header=rows[0])
    assert main([*prepare[:5], str(out), "--no-progress", "--split", "train", "--window", "2"]) == 0
    caplog.clear()
    assert main([*prepare[:5], str(out), "--no-progress", "--split", "test", "--window", "4"]) == 0
    assert "train-00000-of-00001.tfrecord is not in manifest.json (converted with other settings): convert the " \
           "train split again" in caplog.text
    with pytest.raises(ValueError, match="train-00000-of-00001.tfrecord: a shard manifest.json does not list"):
        check_shards(str(out / "train-*.tfrecord"), config)
    check_shards(str(out / "test-*.tfrecord"), config)


def test_rows_left_out_of_ones_own_table_are_warned_of_by_its_reader(own, caplog):
    """A data engineer's: "WARNING acga_tf.data.a2d: skipped: data/annotations.csv:14: ..." for their own table."""
    with open(own / "annotations.csv", "a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["clips/gone.mp4", 3, "the red square", "masks/a3.png", "train", ""])
    skipped = []
    with caplog.at_level("WARNING"):
        read_custom(str(own), skip_bad=True, skipped=skipped)
    assert [r.reason for r in skipped] == ["missing_video"]
    assert [record.name for record in caplog.records if "skipped:" in record.getMessage()] == ["acga_tf.data.custom"]


def test_many_rows_left_out_for_one_reason_are_warned_of_ten_by_ten(own, caplog):
    """A tester's: `acga prepare a2d --skip-bad` on a partial A2D printed one warning per item left out (3,747
    lines). The first ten of a reason one by one, then one line that more follow; the list holds every one."""
    with open(own / "annotations.csv", "a", encoding="utf-8", newline="") as f:
        for k in range(25):
            csv.writer(f).writerow([f"clips/gone{k}.mp4", 3, "the red square", "masks/a3.png", "train", ""])
        csv.writer(f).writerow(["clips/a.mp4", 3, "", "masks/a3.png", "train", ""])  # another reason: shown
    skipped = []
    with caplog.at_level("WARNING"):
        read_custom(str(own), skip_bad=True, skipped=skipped)
    assert [r.reason for r in skipped].count("missing_video") == 25
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped: ")]
    assert sum("gone" in line for line in warned) == 10, warned
    assert warned.count("skipped: more items for the same reason (missing_video), not shown one by one: the list of "
                        "items left out holds every one (acga prepare's skipped.csv)") == 1
    assert len(warned) == 12, warned


def test_a_mask_drawn_black_on_white_is_refused(tmp_path):
    """An own-data tester's: a mask saved the wrong way round (the actor black on white) was stored as an actor of
    94% of the frame, the background, without a word. An actor over 90% of the frame and all of its border, around
    pixels that are not, is refused; the same mask the right way round, and a frame-filling actor, are read."""
    mask = np.zeros((48, 64), np.uint8)
    mask[20:34, 10:24] = 255  # 196 pixels
    Image.fromarray(255 - mask).save(tmp_path / "inverted.png")
    with pytest.raises(DataError, match=r"inverted.png: the actor covers 94% of the frame and all of its border, "
                                        r"around 196 pixels that are not: a mask drawn black on white\? The actor is "
                                        r"white \(255\), or 1, on black \(0\): invert the mask"):
        read_mask_image(str(tmp_path / "inverted.png"))
    Image.fromarray(mask).save(tmp_path / "right.png")
    np.testing.assert_array_equal(read_mask_image(str(tmp_path / "right.png")), mask // 255)
    full = np.full((48, 64), 255, np.uint8)
    full[:, :3] = 0  # a close-up, the actor up to three borders: read
    Image.fromarray(full).save(tmp_path / "close.png")
    assert read_mask_image(str(tmp_path / "close.png")).sum() == 48 * 61
    Image.fromarray(np.full((48, 64), 255, np.uint8)).save(tmp_path / "all.png")  # the whole frame: read
    assert read_mask_image(str(tmp_path / "all.png")).all()
