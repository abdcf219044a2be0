"""acga_tf.apps.visualize and `acga visualize`: attention figures (docs/model.md#attention) and qualitative grids
(docs/evaluation.md#protocol)."""

import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from runs import QUERY, X264_GOP_8, count_decoded, moving_frames, write_video

from acga_tf.apps.visualize import (
    PADDING_LABEL,
    attention_figure,
    attention_model,
    compute_attention,
    glyphs_noted,
    qualitative_grid,
    save_figure,
    shortened,
)
from acga_tf.cli import main


@pytest.fixture(scope="module")
def trained_twin(trained):
    """The run with its attention twin built once (compute_attention uses a model that returns attention as is)."""
    import dataclasses

    return dataclasses.replace(trained, model=attention_model(trained.model))


@pytest.fixture(scope="module")
def frames():
    return moving_frames(12, 72, 100, seed=3)


def _axis(fig, gid):
    return next(ax for ax in fig.axes if ax.get_gid() == gid)


def test_attention_of_a_video_file_decodes_only_its_clip(trained_twin, tmp_path, monkeypatch):
    """`acga visualize --video` and the web page's clicks read the clip's frames only, from the keyframe before them
    (before, the whole video was decoded into memory: 48 GB for 10 minutes of 1280 × 720), and give the maps the
    video's frames in memory give, at the start, middle and end."""
    from acga_tf.data import video

    frames = moving_frames(40, 48, 64, seed=4)
    path = write_video(tmp_path / "long.mp4", frames, "libx264", "yuv420p", codec_options=X264_GOP_8)
    decoded_frames = video.read_video_frames(path)
    decoded = count_decoded(monkeypatch)
    t = trained_twin.config.clip_length
    for frame in (None, 0, 25, 39):
        decoded.clear()
        maps = compute_attention(trained_twin, path, QUERY, frame=frame)
        expected = compute_attention(trained_twin, decoded_frames, QUERY, frame=frame)
        assert maps.frame_index == expected.frame_index == (20 if frame is None else frame)
        np.testing.assert_array_equal(maps.frame, expected.frame)
        np.testing.assert_array_equal(maps.mask, expected.mask)
        np.testing.assert_allclose(maps.word_attention, expected.word_attention, atol=1e-6)
        # the clip's frames and the frames between the keyframe before it and its first (7 at most)
        assert len(decoded) <= t + 7, (frame, len(decoded))
    with pytest.raises(ValueError, match="frame 40 is outside the video's 40 frames"):
        compute_attention(trained_twin, path, QUERY, frame=40)


def test_attention_of_an_anamorphic_video_is_drawn_as_players_show_it(trained_twin, tmp_path):
    """4:3 pixels (HDV's), 48 × 60 stored, shown 48 × 80: the figure's frame, maps and points are in square pixels,
    as the frames resampled to them in memory give (before, the figure was a quarter narrower than players show)."""
    import fractions

    from acga_tf.apps.predict import load_video

    path = write_video(tmp_path / "hdv.mp4", moving_frames(12, 48, 60, seed=5), "libx264", "yuv420p",
                       sample_aspect=fractions.Fraction(4, 3))
    stored, _ = load_video(path)
    square = np.stack([np.asarray(Image.fromarray(f).resize((80, 48), Image.Resampling.BILINEAR)) for f in stored])
    maps = compute_attention(trained_twin, path, QUERY, frame=5)
    expected = compute_attention(trained_twin, square, QUERY, frame=5)
    assert maps.frame.shape == (48, 80, 3)
    np.testing.assert_array_equal(maps.frame, expected.frame)
    np.testing.assert_array_equal(maps.mask, expected.mask)
    np.testing.assert_allclose(maps.spatial_map(70, 10), expected.spatial_map(70, 10), atol=1e-6)  # x 70 > 60


def test_attention_twin_has_the_same_weights_and_outputs(trained):
    twin = attention_model(trained.model)
    assert twin is not trained.model and twin.config.return_attention
    assert attention_model(twin) is twin
    rng = np.random.default_rng(0)
    c = trained.config
    x = {"video": rng.uniform(-1, 1, (1, c.clip_length, c.image_size, c.image_size, 3)).astype("float32"),
         "words": rng.standard_normal((1, c.sentence_length, c.word_dim)).astype("float32")}
    out, ref = twin.predict_on_batch(x), trained.model.predict_on_batch(x)
    np.testing.assert_allclose(out["logits"], ref["logits"], atol=1e-5)
    n = (c.image_size // 16) ** 2
    assert out["word_attention"].shape == (1, n, c.sentence_length)
    assert out["spatial_attention"].shape == (1, n, n)


def test_attention_maps_and_figure(trained_twin, frames):
    import dataclasses  # noqa: PLC0415

    maps = compute_attention(trained_twin, frames, QUERY, frame=0)
    assert maps.words == ("the", "red", "circle", "jumping", "on", "the", "left", PADDING_LABEL)
    assert maps.frame.shape == (72, 100, 3) and maps.mask.shape == (72, 100) and maps.probability.shape == (72, 100)
    np.testing.assert_array_equal(maps.frame, frames[0])
    # 72×100 letterboxed to 64: 46×64 at top 9, left 0; the 4×4 attention grid has 16-pixel cells.
    assert maps.point_index(0, 0) == 0
    assert maps.point_index(50, 36) == 2 * 4 + 2
    assert maps.point_index(99, 71) == 15
    assert maps.point_index(30, 5) == 0 * 4 + 1  # y=5 → letterbox row 12.2 → grid row 0
    with pytest.raises(ValueError, match=r"point \(100, 3\) is outside the 100x72"):
        maps.point_index(100, 3)
    np.testing.assert_allclose(maps.word_attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(maps.spatial_attention.sum(-1), 1.0, atol=1e-5)
    heat = maps.spatial_map(50, 36)
    assert heat.shape == (72, 100) and heat.min() >= 0
    # 72×100 letterboxed: the frame's rows are 9 to 55 of 64, so grid rows 0 and 3 hold 7/16 of frame, 1 and 2 all
    row = maps.spatial_attention[maps.point_index(50, 36)].reshape(4, 4)
    assert maps.frame_share(50, 36) == pytest.approx((row * np.array([7, 16, 16, 7])[:, None] / 16).sum(), abs=1e-6)
    x, y = maps.inner_point()  # (the demo's point, the mask's mean, lay off the actor: a reviewer's)
    assert maps.mask[y, x] or not maps.mask.any()
    ring = np.zeros((72, 100), np.uint8)
    ring[10:60, 10:90], ring[25:45, 30:70] = 1, 0  # a mean inside the hole
    x, y = dataclasses.replace(maps, mask=ring).inner_point()
    assert ring[y, x] and not ring[round(np.nonzero(ring)[0].mean()), round(np.nonzero(ring)[1].mean())]
    assert dataclasses.replace(maps, mask=np.ones((72, 100), np.uint8)).inner_point() in {(49, 35), (50, 36), (49, 36),
                                                                                           (50, 35)}  # the centre

    fig = attention_figure(maps, (50, 36))
    bars = _axis(fig, "word_attention")
    heights = np.array([p.get_height() for p in bars.patches])
    np.testing.assert_allclose(heights, maps.word_attention[10], rtol=1e-6)
    assert heights.sum() == pytest.approx(1.0, abs=1e-5)
    assert [t.get_text() for t in bars.get_xticklabels()] == list(maps.words)
    shown = _axis(fig, "spatial_attention").images[1].get_array()
    np.testing.assert_allclose(np.asarray(shown), heat)
    # the map's colours with their scale (a documentation reviewer's: jet without a colour bar)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"] == ["attention"]
    # a sentence with dollar signs is drawn as typed (it was Matplotlib's mathtext: "$$x$$" a ParseException, the
    # web page's click on its frame answered nothing)
    import io  # noqa: PLC0415

    for query in ("the $$x$$ circle", "the $5 and $6 circles"):
        fig = attention_figure(dataclasses.replace(maps, query=query), (50, 36))
        fig.savefig(io.BytesIO(), format="png")
        assert fig.get_suptitle() == query
    # The clip of frame 0 is centred on it (first frame repeated), unlike the middle frame's.
    middle = compute_attention(trained_twin, frames, QUERY)
    assert middle.frame_index == 6 and np.abs(middle.word_attention - maps.word_attention).max() > 1e-6


def test_cli_visualize_attention_figure(run_dir, frames, tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", frames, "libx264", "yuv420p")
    out = tmp_path / "figs" / "attention.png"
    assert main(["visualize", "--model", run_dir, "--video", video, "--query", QUERY, "--point", "50,36",
                 "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed
    # the figure in words too (a screen-reader user's: a picture only): the word weights, in sentence order, and
    # where the point's spatial attention is highest
    lines = printed.splitlines()
    assert lines[0].startswith("frame ") and ", point (50, 36): the mask covers " in lines[0]
    words = re.fullmatch(r"word attention of the point: (.*?)(; padding ([\d.]+) in all)?", lines[1])
    pairs = [pair.rsplit(" ", 1) for pair in words.group(1).split(", ")]
    assert [word for word, _ in pairs] == QUERY.split()[:len(pairs)]
    total = sum(float(w) for _, w in pairs) + float(words.group(3) or 0)
    assert abs(total - 1) < 0.05, total  # each position's word weights sum to 1
    assert re.fullmatch(r"spatial attention of the point: highest at \(\d+, \d+\); \d+% of its weight on the frame "
                        r"lies inside the mask; \d+% of its weight falls on the letterbox padding, outside the "
                        r"frame \(not drawn\)", lines[2]), lines[2]  # (72 x 100: 18 of 64 rows are padding)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 2 * im.height > 200  # three panels side by side
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 10  # drawn content, not a blank canvas


def test_qualitative_grid_of_prepared_shards(trained, prepared_a2d, tmp_path, capsys):
    fig = qualitative_grid(trained, prepared_a2d["test"], samples=3, batch_size=2)
    assert len(fig.samples) == 3 and len(fig.axes) == 9
    assert [ax.get_title() for ax in fig.axes[:3]] == ["frame", "ground truth", "ours"]
    for r, (sample_id, sentence, iou) in enumerate(fig.samples):
        frame, truth, ours = (np.asarray(ax.images[0].get_array()) for ax in fig.axes[3 * r:3 * r + 3])
        assert frame.shape[:2] == truth.shape == ours.shape and frame.shape[0] == 160  # the synthetic frame height
        assert truth.any()
        expected = (np.logical_and(truth, ours).sum() + 1e-6) / (np.logical_or(truth, ours).sum() + 1e-6)
        assert iou == pytest.approx(expected)
    # each row captioned with its sample id (the ids --sample takes), and the CLI lists the rows in words
    for r, (sample_id, *_) in enumerate(fig.samples):
        assert sample_id in [text.get_text() for text in fig.axes[3 * r + 1].texts]
    out = tmp_path / "grid.png"
    capsys.readouterr()
    assert main(["visualize", "--model", trained.directory, "--data", prepared_a2d["test"], "--samples", "2",
                 "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"row {r + 1}: {sample_id} '{sentence}': IoU {iou:.2f}"
                         for r, (sample_id, sentence, iou) in enumerate(fig.samples[:2])], lines
    with Image.open(out) as im:
        assert im.format == "PNG" and im.height > im.width * 0.5 > 100


def test_a_papers_grid_shows_the_samples_it_names_at_their_stored_size_in_print_quality(trained, prepared_a2d,
                                                                                        tmp_path, capsys):
    """A figure-making tester's: the grid showed the shards' first samples only (the one where a model wins could
    not be shown), its frame was the model's 128-pixel input scaled back up (blurred beside full-size masks), a PNG
    was 100 dpi whatever was asked, and a PDF's fonts were Type 3 (refused by publishers' checks)."""
    import glob  # noqa: PLC0415

    import tensorflow as tf  # noqa: PLC0415

    from acga_tf.data.decode import decode  # noqa: PLC0415

    first = [sample_id for sample_id, *_ in qualitative_grid(trained, prepared_a2d["test"], samples=5).samples]
    picked = [first[4], first[1]]
    fig = qualitative_grid(trained, prepared_a2d["test"], sample_ids=picked, batch_size=2)
    assert [sample_id for sample_id, *_ in fig.samples] == picked  # in the order given
    stored = {}  # each annotated frame as the shards hold it
    for record in tf.data.TFRecordDataset(sorted(glob.glob(prepared_a2d["test"]))):
        d = decode(record)
        key = f"{d['video_id'].numpy().decode()}/{int(d['frame_number']):05d}"
        stored[key] = np.asarray(tf.io.decode_jpeg(d["frames"][int(d["center"])]))
    for r, sample_id in enumerate(picked):
        frame = np.asarray(fig.axes[3 * r].images[0].get_array())
        np.testing.assert_array_equal(frame, stored[sample_id.rsplit("/", 1)[0]])
    out = tmp_path / "grid.png"
    argv = ["visualize", "--model", trained.directory, "--data", prepared_a2d["test"], "--output", str(out)]
    assert main([*argv, "--sample", picked[0], "--sample", picked[1], "--dpi", "200"]) == 0
    with Image.open(out) as im:
        assert round(im.info["dpi"][0]) == 200 and im.height > 6.2 * 150  # two rows of 3.1 in (100 dpi: 558)
    pdf = tmp_path / "grid.pdf"
    assert main([*argv[:-1], str(pdf), "--sample", picked[0]]) == 0
    assert b"/Type3" not in pdf.read_bytes() and b"/FontFile2" in pdf.read_bytes()  # TrueType fonts, embedded
    capsys.readouterr()
    assert main([*argv, "--sample", "nope/00001/0", "--sample", picked[0]]) == 2
    assert capsys.readouterr().err.strip().endswith(": no sample nope/00001/0 (sample ids are "
                                                     "<video>/<frame:05d>/<instance>, as acga evaluate --output-csv "
                                                     "lists them)")


@pytest.mark.parametrize("args, message", [
    (["--video", "V", "--query", QUERY, "--point", "12;4"], "--point '12;4': expected X,Y"),
    # before the model loads (a typo's minus sign or nan was found out after it)
    (["--video", "V", "--query", QUERY, "--point=-12,4"], r"--point '-12,4': a pixel of the frame, X,Y from 0"),
    (["--video", "V", "--query", QUERY, "--point", "nan,4"], r"--point 'nan,4': a pixel of the frame"),
    (["--video", "V", "--query", QUERY], "give --data PATTERN"),
    (["--video", "V", "--query", "", "--point", "1,1"], "query is empty"),
    (["--video", "V", "--query", "zebra xylophone", "--point", "1,1"], "query 'zebra xylophone' has no known word"),
    (["--data", "/nonexistent/*.tfrecord"], "no TFRecord file matches"),
    (["--data", "D", "--output", "O"], r"/fig: the figure's format is its extension, none is not one of .*\.png"),
    (["--data", "D", "--output", "O.jpgx"], r"/fig.jpgx: the figure's format is its extension, .jpgx is not one of"),
    (["--video", "V", "--sample", "a/00001/0"], r"--sample picks a qualitative grid's rows: give --data PATTERN"),
    # a reviewer's: --samples was left unused without a word
    (["--data", "D", "--samples", "3", "--sample", "a/00001/0"], r"--samples 3 and --sample: --sample picks the rows"),
    (["--video", "V", "--query", QUERY, "--point", "1,1", "--samples", "3"],
     r"--samples 3: the rows of a qualitative grid; give --data PATTERN with it"),
    # a reviewer's: the attention figure's options beside --data were passed over, the grid drawn
    (["--data", "D", "--video", "V", "--query", QUERY, "--point", "1,1"],
     r"--video, --query, --point: go with the attention figure, --data with the qualitative grid"),
    (["--data", "D", "--frame", "3"], r"--frame: goes with the attention figure"),
])
def test_cli_visualize_user_errors_are_one_line(args, message, run_dir, frames, tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", frames, "libx264", "yuv420p")
    # Refused before the model or the shards are read (D: a pattern that matches nothing).
    names = {"V": video, "D": str(tmp_path / "nothing-*.tfrecord"), "O": str(tmp_path / "fig"),
             "O.jpgx": str(tmp_path / "fig.jpgx")}
    args = [names.get(a, a) for a in args]
    code = main(["visualize", "--model", run_dir, "--output", str(tmp_path / "f.png"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("acga visualize: error:"), err
    assert __import__("re").search(message, err[0]), err[0]


@pytest.mark.parametrize("name", ["frames/00003.png", "link.png"])
def test_a_figure_naming_a_frame_being_read_is_refused(name, run_dir, frames, tmp_path, monkeypatch, capsys):
    """`--output` naming one of a folder of frames' PNGs (or a link to one) replaced that frame with the figure:
    refused before the model is read, as `acga predict` refuses its input (`files.check_not_input`)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames[:4], start=1):
        Image.fromarray(frame).save(folder / f"{k:05d}.png")
    (tmp_path / "link.png").symlink_to(folder / "00003.png")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.chdir(tmp_path)
    assert main(["visualize", "--model", run_dir, "--video", "frames", "--query", QUERY, "--point", "1,1",
                 "--output", name]) == 2
    assert capsys.readouterr().err == (f"acga visualize: error: {name}: is a frame of the input video (frames); "
                                       "--output must name another path\n")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_figure_naming_a_file_of_the_model_is_refused(run_dir, frames, tmp_path, capsys):
    """As `acga predict`'s outputs (a tester's `--output-json RUN/model.keras` replaced the model): the figure may
    name none of the model's files (`visualize.figure_inputs`), here through a link (a figure is written through it,
    `files.output_path`), since a figure's extension is none of theirs."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    video = tmp_path / "v.mp4"
    write_video(str(video), frames[:4], "libx264", "yuv420p")
    output = tmp_path / "figure.png"
    output.symlink_to(run / "model.keras")
    assert main(["visualize", "--model", str(run), "--video", str(video), "--query", QUERY, "--point", "1,1",
                 "--output", str(output)]) == 2
    assert capsys.readouterr().err == (f"acga visualize: error: {output}: is a file of the model ({run}); --output "
                                       "must name another path\n")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_failed_figure_write_keeps_the_earlier_file(trained_twin, frames, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "fig.png"
    path.write_bytes(b"the earlier figure")

    def full_disk(self, fname, **kwargs):
        fname.write(b"half a PNG")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_figure(Figure(), str(path))
    assert path.read_bytes() == b"the earlier figure" and os.listdir(tmp_path) == ["fig.png"]


def test_save_figure_creates_folders(trained_twin, frames, tmp_path):
    maps = compute_attention(trained_twin, frames, QUERY)
    path = save_figure(attention_figure(maps, (10, 10)), str(tmp_path / "a" / "b" / "fig.svg"))
    assert open(path).read(200).lstrip().startswith("<?xml")


def test_a_character_the_font_cannot_draw_is_one_log_line_not_matplotlibs_warnings(tmp_path, caplog, recwarn):
    """An i18n tester's: an emoji in the sentence printed Matplotlib's "UserWarning: Glyph 127881 (\\N{PARTY POPPER})
    missing from font(s) DejaVu Sans." twice, each with a source path of the package. Now one warning line."""
    import warnings

    from matplotlib.figure import Figure

    fig = Figure()
    fig.suptitle("the yellow circle \U0001f389 moving \U0001f389 up")
    fig.add_subplot().set_title("\u2603 snow")
    with caplog.at_level("WARNING"):
        with glyphs_noted(fig):
            fig.tight_layout()  # drawn twice, as attention_figure then save_figure draw it: one warning
        save_figure(fig, str(tmp_path / "emoji.png"))
        with glyphs_noted():
            warnings.warn("another warning", UserWarning)  # passes through
    assert [str(w.message) for w in recwarn] == ["another warning"]
    assert [r.getMessage() for r in caplog.records] == ["the figure's font has no glyph for \U0001f389: drawn as a box"]
    assert (tmp_path / "emoji.png").stat().st_size > 0


def test_a_sample_id_of_several_sentences_shows_each_of_them(trained, tmp_path):
    """A Refer-YouTube-VOS researcher's object with two expressions: one sample id, two samples, and `--sample`
    drew one of them without a word. Each sentence of the id is a row."""
    import csv

    from acga_tf.data.convert import prepare

    root = tmp_path / "own"
    root.mkdir()
    frames = moving_frames(12, 48, 64, seed=2)
    write_video(root / "a.mkv", frames, "ffv1", "bgr0")
    mask, other = np.zeros((48, 64), np.uint8), np.zeros((48, 64), np.uint8)
    mask[10:30, 20:40] = 255
    other[30:40, 5:15] = 255
    Image.fromarray(mask).save(root / "m.png")
    Image.fromarray(other).save(root / "o.png")
    # another actor's sentences between the id's two (a reviewer's: a batch of them ended the search early)
    rows = [("a.mkv", 4, QUERY, "m.png", "test"), *[("a.mkv", 4, f"{s} object", "o.png", "test")
                                                    for s in ("a red", "the green", "a yellow")],
            ("a.mkv", 4, "a blue square walking", "m.png", "test"), ("a.mkv", 8, QUERY, "m.png", "test")]
    with open(root / "annotations.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("video", "frame", "query", "mask", "split"), *rows])
    prepare("custom", str(root), str(tmp_path / "shards"), progress=False)
    for batch_size in (1, 2):
        fig = qualitative_grid(trained, str(tmp_path / "shards" / "test-*.tfrecord"), sample_ids=["a/00004/0"],
                               batch_size=batch_size)
        assert [(sample_id, sentence) for sample_id, sentence, _ in fig.samples] == [
            ("a/00004/0", QUERY), ("a/00004/0", "a blue square walking")]


def test_a_vector_figure_embeds_its_images_at_their_own_pixels_and_names_no_temporary_file(tmp_path):
    """A reviewer's: a PDF's 1280 x 720 frames were embedded at 205 x 115 (resampled at the 100 dpi of PNGs), and
    an EPS's title was its temporary file's name."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.1))
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    fig.add_subplot().imshow(frame)

    def widths(pdf):
        return [int(w) for w in re.findall(rb"/Width (\d+)", open(pdf, "rb").read())]

    (default,) = widths(save_figure(fig, str(tmp_path / "grid.pdf")))  # at 300 dpi: a frame of about 900 pixels
    (screen,) = widths(save_figure(fig, str(tmp_path / "screen.pdf"), dpi=100))  # (the next reviewer's: at its own
    assert 600 < default < 1280 and abs(default - 3 * screen) <= 3, (default, screen)  # pixels, an EPS of 22 MB)
    eps = open(save_figure(fig, str(tmp_path / "grid.eps")), "rb").read(2000)
    assert eps.startswith(b"%!PS-Adobe-3.0 EPSF") and b".tmp" not in eps
    # the same figure, the same bytes (a wish: a PDF's and an SVG's changed at every save, by their time and ids; an
    # EPS's too, by the time in its header)
    import time

    formats, small = ("pdf", "svg", "svgz", "eps", "ps"), Figure(figsize=(2, 1))
    small.add_subplot().imshow(frame[:90, :160])
    first = {ext: open(save_figure(small, str(tmp_path / f"a.{ext}"), dpi=50), "rb").read() for ext in formats}
    time.sleep(1.1)  # (a PDF's time is in seconds)
    assert first == {ext: open(save_figure(small, str(tmp_path / f"a.{ext}"), dpi=50), "rb").read() for ext in formats}
    assert b"\n%%Title: a.eps\n" in first["eps"][:500] and b"CreationDate" not in first["eps"]


def test_save_figure_refuses_what_the_command_refuses_and_a_format_it_cannot_write(tmp_path):
    """A reviewer's: the Python API replaced a write-protected figure the command refuses; a .pgf figure ran the
    whole job, then failed with a traceback (it needs LaTeX, and keeps each image in a file of its own)."""
    from matplotlib.figure import Figure

    path = tmp_path / "kept.png"
    path.write_bytes(b"the earlier figure")
    path.chmod(0o444)
    try:
        with pytest.raises(ValueError, match="write-protected"):
            save_figure(Figure(), str(path))
    finally:
        path.chmod(0o644)
    assert path.read_bytes() == b"the earlier figure"
    with pytest.raises(ValueError, match=r"fig\.pgf: \.pgf is not written here \(LaTeX's format keeps each image in "
                                         r"a file of its own\); LaTeX takes a \.pdf figure"):  # (with LaTeX: a
        save_figure(Figure(), str(tmp_path / "fig.pgf"))  # traceback, the next reviewer's)


def test_a_caption_is_cut_by_its_width_on_the_page():
    """A reviewer's: a grid's caption was cut at 60 characters, and 42 Chinese ones (twice as wide) ran over the
    sample id beside it; an unspaced sentence longer than that became "[...]" alone."""
    chinese = "穿红色衣服的男人正在篮球场上投篮而另一个人在旁边看着他然后跑开去追一只狗"
    cut = shortened(chinese, 60)
    assert cut.endswith(" [...]") and cut.startswith("穿红色衣服") and len(cut.removesuffix(" [...]")) == 27
    english = "the man in the blue shirt who is shooting the basketball at the far end of the court"
    assert shortened(english, 60) == "the man in the blue shirt who is shooting the [...]"  # (as textwrap.shorten)
    assert shortened("a short one", 60) == "a short one"
    accented = shortened("e\u0301" * 70, 60)  # (decomposed: an accent takes no column, and stays on its letter)
    assert accented == "e\u0301" * 54 + " [...]"


def test_words_the_model_does_not_know_are_marked_in_the_word_attention(trained_twin, frames):
    """A figures reviewer's wish: a word outside the vocabulary (read as a zero vector, as padding) was drawn as a bar
    like the words the model read; it is grey and hatched now, its label ends in "?", and the description says so."""
    maps = compute_attention(trained_twin, frames, "the red zebra circle", frame=0)
    assert maps.words[:4] == ("the", "red", "zebra", "circle") and maps.unknown[:4] == (False, False, True, False)
    assert not any(maps.unknown[4:])  # (padding is padding)
    bars = _axis(attention_figure(maps, (50, 36)), "word_attention")
    assert [p.get_hatch() for p in bars.patches][:4] == [None, None, "//", None]
    assert [t.get_text() for t in bars.get_xticklabels()][:4] == ["the", "red", "zebra?", "circle"]
    assert "zebra (not in the vocabulary) " in maps.describe(50, 36)[1]
