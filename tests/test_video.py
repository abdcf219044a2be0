"""acga_tf/data/video.py: decoding frames (MP4, PNG folders), the window around the annotated frame and
`load_sample`'s masks, on the hand-written trees of dataset_files and the synthetic A2D world."""

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from dataset_files import BRUSH, frame_values, make_mask, write_h5
from PIL import Image
from runs import (
    X264_GOP_8,
    audio_frame,
    count_decoded,
    dominant_frequency,
    encode_frames,
    moving_frames,
    mux_sound,
    write_video,
    write_video_with_tone,
)

from acga_tf.apps.predict import video_fps
from acga_tf.data import colour, video
from acga_tf.data.a2d import read_a2d
from acga_tf.data.colour import (
    HDR_TRANSFERS,
    hdr_from_sdr,
    hlg_to_scene,
    light_to_pq,
    pq_to_light,
    scene_to_hlg,
    sdr_from_hdr,
)
from acga_tf.data.types import AnnotatedFrame, DataError, Referral
from acga_tf.data.video import (
    LoadedSample,
    add_audio,
    iter_video_frames,
    load_sample,
    load_samples,
    read_a2d_masks,
    read_png_frames,
    read_video_frames,
    window_bounds,
    write_mp4,
)
from acga_tf.ops.geometry import clip_indices

REPO = str(Path(__file__).resolve().parent.parent)


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
    with pytest.raises(DataError, match=r"00008\.h5: the mask of instance 0 is 320x500 .*are 320x568") as e:
        load_sample(f, 8)
    assert e.value.reason == "mask_size"
    Path(f.mask_path).write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"00008\.h5: cannot read the mask file") as e:
        load_sample(f, 8)
    assert e.value.reason == "bad_mask"
    g = frames["EadxBPmQvtg", 12]
    Path(g.frames_path).write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match=r"EadxBPmQvtg\.mp4: not a video FFmpeg can read") as e:
        load_sample(g, 8)
    assert e.value.reason == "corrupt_video"
    Path(g.frames_path).unlink()
    with pytest.raises(DataError, match=r"EadxBPmQvtg\.mp4: video file not found") as e:
        load_sample(g, 8)
    assert e.value.reason == "missing_video"


def _a2d_frames(video, folder, numbers, masks_of):
    """AnnotatedFrames of one A2D-style video, each with an .h5 of one instance (masks_of(frame) gives its mask)."""
    out = []
    for k in numbers:
        write_h5(folder / f"{k:05d}.h5", [masks_of(k)], [0])
        out.append(AnnotatedFrame("a2d", "train", "vid", k, str(video), str(folder / f"{k:05d}.h5"), None,
                                  (Referral(f"the actor at {k}", 0),)))
    return out


def _same_results(together, one_at_a_time):
    assert len(together) == len(one_at_a_time)
    for (frame, got), (frame_alone, expected) in zip(together, one_at_a_time):
        assert frame is frame_alone
        assert type(got) is type(expected), (frame.frame_number, got, expected)
        if isinstance(expected, DataError):
            assert (got.source, got.reason, got.message) == (expected.source, expected.reason, expected.message)
        else:
            assert (got.center, got.first_index, got.height, got.width) == \
                (expected.center, expected.first_index, expected.height, expected.width)
            np.testing.assert_array_equal(got.frames, expected.frames)
            np.testing.assert_array_equal(np.stack(got.masks), np.stack(expected.masks))


def test_the_annotated_frames_of_a_video_are_decoded_once_and_load_as_one_at_a_time(tmp_path, monkeypatch):
    # A2D annotates 3 to 5 frames a video, spread over it: the converter decoded it from its start for each of them.
    video = write_video(tmp_path / "vid.mp4", moving_frames(40, 48, 64, seed=2), "libx264", "yuv420p")
    masks = tmp_path / "masks"
    masks.mkdir()
    frames = _a2d_frames(video, masks, (1, 5, 20, 38, 45), lambda k: (np.arange(48 * 64).reshape(48, 64) % k == 0))
    write_h5(masks / "00020.h5", [np.ones((48, 64), np.uint8)], [3])  # frame 20: a mask error, not a video one
    one_at_a_time = [(f, _load_or_error(f, 8)) for f in frames]
    decoded = count_decoded(monkeypatch)
    together = list(load_samples(frames, 8))
    assert len(decoded) == 40  # once, to the video's end (frame 45's window ends past it)
    _same_results(together, one_at_a_time)
    assert [type(r).__name__ for _, r in together] == ["LoadedSample", "LoadedSample", "DataError", "LoadedSample",
                                                      "DataError"]
    assert together[4][1].reason == "short_video" and together[2][1].reason == "missing_instance"
    decoded.clear()
    assert [r.first_index for _, r in load_samples(frames[:2], 8)] == [0, 0]
    assert len(decoded) == 4 + 4  # no further than the last window's end (frame 5 is index 4)


def test_a_decoding_error_stops_only_the_frames_whose_window_it_cuts(tmp_path):
    whole = write_video(tmp_path / "full.mp4", moving_frames(30, 48, 64, seed=6), "libx264", "yuv420p",
                        options={"movflags": "faststart"})
    cut = tmp_path / "vid.mp4"
    data = Path(whole).read_bytes()
    cut.write_bytes(data[:len(data) * 3 // 5])  # decodable up to about frame 18, then InvalidDataError
    masks = tmp_path / "masks"
    masks.mkdir()
    frames = _a2d_frames(cut, masks, (3, 8, 28), lambda k: np.eye(48, 64, k, dtype=np.uint8))
    one_at_a_time = [(f, _load_or_error(f, 6)) for f in frames]
    together = list(load_samples(frames, 6))
    _same_results(together, one_at_a_time)
    assert [type(r).__name__ for _, r in together] == ["LoadedSample", "LoadedSample", "DataError"]
    assert together[2][1].reason == "corrupt_video"
    Path(cut).unlink()
    assert {r.reason for _, r in load_samples(frames, 6)} == {"missing_video"}


def test_a_frame_ffmpeg_concealed_is_a_decoding_error_for_the_converter_and_shown_by_predict(tmp_path, caplog):
    # A few bytes damaged mid-file: H.264's decoder conceals the error (the picture partly guessed, and the frames
    # after it built on it) instead of failing the packet; the converter stored such frames without a word.
    whole = write_video(tmp_path / "full.mp4", moving_frames(40, 96, 160, seed=2), "libx264", "yuv420p",
                        options={"movflags": "faststart"}, codec_options={"crf": "20"})
    data = bytearray(Path(whole).read_bytes())
    for offset in np.random.default_rng(0).integers(len(data) * 55 // 100, len(data) * 60 // 100, 20):
        data[offset] ^= 0xFF
    video = tmp_path / "vid.mp4"
    video.write_bytes(bytes(data))
    with av.open(str(video)) as c:  # what FFmpeg itself says of it: every frame decodes, some concealed
        flags = [f.is_corrupt for f in c.decode(c.streams.video[0])]
    assert len(flags) == 40 and any(flags)
    first = flags.index(True)
    with pytest.raises(DataError, match=rf"vid\.mp4: frame {first + 1} is damaged \(FFmpeg concealed") as e:
        list(iter_video_frames(str(video)))
    assert e.value.reason == "corrupt_video"
    with caplog.at_level("WARNING"):
        assert len(list(iter_video_frames(str(video), damaged="skip"))) == 40  # as players show it
    assert f"{sum(flags)} damaged frame" in caplog.text and f"from frame {first + 1} on" in caplog.text  # from 1
    masks = tmp_path / "masks"
    masks.mkdir()
    frames = _a2d_frames(video, masks, (3, 8, 38), lambda k: np.eye(96, 160, k, dtype=np.uint8))
    results = [r for _, r in load_samples(frames, 6)]
    assert [type(r).__name__ for r in results] == ["LoadedSample", "LoadedSample", "DataError"]
    assert results[2].reason == "corrupt_video" and f"frame {first + 1} is damaged" in results[2].message


def test_a_frame_size_no_machine_can_hold_is_refused_before_decoding(tmp_path):
    # A 75-byte GIF whose logical screen says 15000 x 15000: `acga predict`, the web page and `acga_tf.predict` held
    # a clip of such frames (0.7 GB each in RGB) until the machine ran out of memory.
    import io

    from PIL import Image

    buffer = io.BytesIO()
    frames = [Image.new("P", (8, 8), i) for i in range(4)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=40)
    data = bytearray(buffer.getvalue())
    data[6:10] = (15000).to_bytes(2, "little") * 2  # the logical screen's width and height
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(bytes(data))
    assert len(data) < 200
    for damaged in ("error", "skip"):  # (Pillow, which reads its header first, names the count alone)
        with pytest.raises(DataError, match=r"bomb\.gif: the picture declares a frame of 225,000,000 pixels, more "
                                            r"than the 33,177,600 a frame may have \(8K UHD") as e:
            next(iter_video_frames(str(bomb), damaged=damaged))
        assert e.value.reason == "corrupt_video"


def test_a_yuv4mpeg_header_of_too_many_pixels_is_refused_by_its_size(tmp_path):
    """A security tester's: FFmpeg refuses such a header with "[Errno 16] Device or resource busy", which was the
    message; a header within bounds that FFmpeg cannot read is still FFmpeg's error."""
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
    with pytest.raises(DataError, match=r"huge\.y4m: the video declares frames of 60000 x 60000 pixels, more than the "
                                        r"33,177,600 a frame may have") as e:
        next(iter_video_frames(str(huge)))
    assert e.value.reason == "corrupt_video"
    assert video.y4m_size(str(huge)) == (60000, 60000) and video.y4m_size(str(tmp_path)) is None


def _png_declaring(path, width: int, height: int) -> str:
    """A PNG of 8 x 8 grey pixels whose header (IHDR) declares width x height: what a picture that large costs to
    refuse, without writing one."""
    import io
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # the chunk's CRC over its type and data
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("where", ["photo", "folder"])
def test_a_picture_over_8k_is_refused_from_its_header_before_ffmpeg_opens_it(where, tmp_path, monkeypatch):
    """A security reviewer's 420 KB PNG of 12000 x 12000 pixels was refused only after FFmpeg's probe had decoded it
    (414 MB, 0.44 s), and Pillow printed its own warning on the way; a folder of them too."""
    import warnings

    folder = tmp_path / "frames"
    folder.mkdir()
    path = _png_declaring(folder / "00001.png", 12000, 12000)
    opened = []
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (Pillow's DecompressionBombWarning is not shown)
        with pytest.raises(DataError, match=r"00001\.png: the picture declares a frame of 12000 x 12000 pixels, more "
                                            r"than the 33,177,600 a frame may have"):
            next(iter_video_frames(path if where == "photo" else str(folder)))
    assert opened == []


def _load_or_error(frame, window):
    """What the converter loaded before, written out independently of `load_samples`: the frame's masks, then its
    video decoded from the start to the end of its window (every frame converted), then the window taken."""
    try:
        masks = read_a2d_masks(frame.mask_path, [r.instance_id for r in frame.referrals])
        c = frame.frame_number - 1
        video = read_video_frames(frame.frames_path, max_frames=c + (window + 1) // 2)
        if len(video) <= c:
            return DataError(frame.frames_path, f"the video has {len(video)} frames, fewer than annotated frame "
                                                f"{frame.frame_number} ({frame.mask_path})", reason="short_video")
        first, last = window_bounds(c, window, len(video))
        return LoadedSample(video[first:last + 1], c - first, masks, video.shape[1], video.shape[2], first)
    except DataError as e:
        return e


def test_read_png_frames_errors(jhmdb_root):
    folder = jhmdb_root / "Rename_Images" / "brush_hair" / BRUSH
    assert read_png_frames(str(folder), [15, 1]).reshape(2, -1).mean(1).tolist() == [150, 10]
    with pytest.raises(DataError, match=r"00016\.png: frame 16 not found"):
        read_png_frames(str(folder), [16])


def test_stored_window_gives_the_clip_of_the_full_video(a2d_world):
    # Clamping inside the stored window == clamping in the whole video (schema docstring).
    root, _ = a2d_world
    frame = read_a2d(str(root), "train")[0]
    loaded = load_sample(frame, 24)
    c = frame.frame_number - 1
    for t in (4, 8, 16, 24):
        from_window = loaded.first_index + clip_indices(loaded.center, len(loaded.frames), t).numpy()
        np.testing.assert_array_equal(from_window, clip_indices(c, 24, t).numpy())


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
@pytest.mark.parametrize("hflip", [False, True])
@pytest.mark.parametrize("vflip", [False, True])
def test_a_video_is_decoded_as_players_show_it(degrees, hflip, vflip, tmp_path):
    # A phone stores a portrait video as landscape frames and a display matrix; players and FFmpeg's own tool turn the
    # frames by it (the eight orientations: a counter-clockwise turn, then mirrors; by hand, `ffmpeg -i` gave these
    # same frames for all sixteen cases, 2026-12-02). Lossless FFV1, so the frames compare exactly.
    stored = moving_frames(3, 24, 40, seed=3)
    path = write_video(tmp_path / "phone.mkv", stored, "ffv1", "bgr0", display=(degrees, hflip, vflip))
    shown = np.rot90(stored, degrees // 90, axes=(1, 2))
    shown = shown[:, :, ::-1] if hflip else shown
    shown = shown[:, ::-1] if vflip else shown
    np.testing.assert_array_equal(read_video_frames(path), shown)


# (codec, pixel format, the YUV matrix to encode with, the stream's tags: FFmpeg's AVColorSpace, AVColorPrimaries and
# AVColorTransferCharacteristic, and its range): SD, HD, HD in full range (0 to 255, as some phones record; it decodes
# as yuvj420p), and a phone's HDR video (iPhones record 10-bit HEVC, BT.2020, HLG).
COLOUR_SYSTEMS = {"sd.mp4": ("libx264", "yuv420p", "ITU601", (6, 6, 6), "MPEG"),
                  "hd.mp4": ("libx264", "yuv420p", "ITU709", (1, 1, 1), "MPEG"),
                  "hd_full_range.mp4": ("libx264", "yuv420p", "ITU709", (1, 1, 1), "JPEG"),
                  "phone_hlg.mov": ("libx265", "yuv420p10le", "BT2020", (9, 9, 18), "MPEG"),
                  "hdr10_pq.mkv": ("libx265", "yuv420p10le", "BT2020", (9, 9, 16), "MPEG")}
# Four flat 32 × 32 frames, one colour each: a red, a green, a blue and a skin tone.
COLOURS = np.array([(200, 30, 30), (30, 180, 60), (40, 60, 210), (225, 170, 140)], np.uint8)
COLOUR_FRAMES = np.repeat(np.repeat(COLOURS[:, None, None], 32, axis=1), 32, axis=2)


def write_colour_video(path, frames, name) -> str:
    """Encodes uint8 (N, H, W, 3) RGB pictures as COLOUR_SYSTEMS[name] says; an HDR stream carries them as BT.2408's
    SDR-to-HDR mapping does (`hdr_from_sdr`)."""
    from av.video.reformatter import ColorRange, Colorspace

    codec, pix_fmt, matrix, tags, value_range = COLOUR_SYSTEMS[name]
    transfer = HDR_TRANSFERS.get(tags[2])
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        context = stream.codec_context
        context.colorspace, context.color_primaries, context.color_trc = tags
        context.color_range = int(getattr(ColorRange, value_range))
        # HDR's lossless: BT.709's dark channels are differences of BT.2020's, which magnify x265's losses near black.
        stream.options = {"x265-params": "log-level=error:lossless=1"} if codec == "libx265" else {}
        for t, image in enumerate(frames):
            if transfer is None:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            else:
                signal = np.round(hdr_from_sdr(image, transfer) * 65535).astype(np.uint16)
                frame = av.VideoFrame.from_ndarray(signal, format="rgb48le")
            frame = frame.reformat(format=pix_fmt, dst_colorspace=getattr(Colorspace, matrix),
                                   dst_color_range=getattr(ColorRange, value_range))
            frame.pts = t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


@pytest.mark.parametrize("name", COLOUR_SYSTEMS)
def test_colours_are_decoded_as_players_show_them(name, tmp_path):
    # Players convert YUV to RGB with the matrix the stream names. PyAV before 17 used SD's (BT.601) for every video:
    # HD's red (200, 30, 30) came out (184, 11, 31) with PyAV 16.1 (measured 2026-12-02), so setup.cfg asks for 18.
    # An HDR stream (a phone's HLG, HDR10's PQ) is shown as its SDR picture. Read as stored, before, the HLG one's red
    # came out (153, 54, 32) and its skin tone (169, 148, 123); the PQ one's (122, 73, 54) and (133, 123, 115).
    frames = COLOUR_FRAMES
    path = write_colour_video(tmp_path / name, frames, name)
    decoded = read_video_frames(path)[:, 8:24, 8:24]  # away from the chroma edges
    error = np.abs(decoded.astype(int) - frames[:, 8:24, 8:24]).max()
    # PQ spends its 10 bits on 0 to 10,000 cd/m²: near black, BT.709's channels (differences of BT.2020's) come back
    # up to 5 levels off (green's red: 35 for 30).
    assert error <= (6 if name == "hdr10_pq.mkv" else 4), (name, decoded[:, 8, 8])


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_written_videos_say_their_colours_are_bt709(codec, tmp_path, monkeypatch):
    # Overlays were written untagged, converted with SD's matrix (BT.601), while browsers and players read an untagged
    # HD video with BT.709's: red (200, 30, 30) showed as (215, 46, 30) in Chromium (measured). They are now converted
    # with BT.709's and say so, which every player honours; the `ffmpeg` tool read (199, 28, 29) before and reads
    # (200, 29, 30) now.
    from av.video.reformatter import Colorspace

    if codec == "mpeg4":  # what Mp4Writer falls back to where FFmpeg has no libx264
        monkeypatch.setattr(av, "codecs_available", av.codecs_available - {"libx264"})
    frames = COLOUR_FRAMES
    path = str(tmp_path / "written.mp4")
    assert write_mp4(path, frames, 12, {"qp": "0"}) == codec
    with av.open(path) as container:
        context = container.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
        as_709 = np.stack([f.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU709)
                           for f in container.decode(video=0)])
    for decoded in (as_709, read_video_frames(path)):
        assert np.abs(decoded[:, 8:24, 8:24].astype(int) - frames[:, 8:24, 8:24]).max() <= 4, decoded[:, 8, 8]


def test_hdr_light_is_mapped_as_bt2408_relates_hdr_to_sdr():
    # BT.2408's anchors: an 18% grey card is HLG 38% (26 cd/m² on a 1000 cd/m² display), reference white HLG 75% and
    # PQ 58% (203 cd/m²). White is SDR's 100%, and the grey card's 26 / 203 of it is level 255 · 0.128^(1 / 2.4).
    assert 1000 * hlg_to_scene(0.38) ** 1.2 == pytest.approx(26, abs=0.5)
    assert 1000 * hlg_to_scene(0.75) ** 1.2 == pytest.approx(203, abs=0.5)
    assert pq_to_light(0.58) == pytest.approx(203, abs=2)
    np.testing.assert_allclose(scene_to_hlg(hlg_to_scene(np.linspace(0, 1, 11))), np.linspace(0, 1, 11), atol=1e-9)
    np.testing.assert_allclose(light_to_pq(pq_to_light(np.linspace(0, 1, 11))), np.linspace(0, 1, 11), atol=1e-6)

    def seen(transfer, level):
        return sdr_from_hdr(np.full((1, 1, 3), round(level * 65535), np.uint16), transfer)[0, 0].tolist()

    assert seen("hlg", 0.38) == [109] * 3
    assert seen("hlg", 0.75) == [255] * 3
    assert seen("pq", 0.58) == [254] * 3
    assert seen("hlg", 1.0) == [255] * 3  # HLG's peak, 1000 cd/m²: brighter than white, shown white
    # A red five times as bright as SDR's (200, 30, 30) is dimmed along its hue (to (255, 38, 38), the same light in
    # the same proportions), not washed towards white or yellow.
    red = hlg_to_scene(hdr_from_sdr(np.array([200, 30, 30], np.uint8), "hlg"))
    brighter = np.round(scene_to_hlg(red * 5 ** (1 / 1.2)) * 65535).astype(np.uint16)  # display light ∝ E^1.2
    shown = sdr_from_hdr(brighter[None, None], "hlg")[0, 0].astype(int)
    assert np.abs(shown - [255, 38, 38]).max() <= 2, shown


def test_an_interlaced_video_is_deinterlaced_as_players_show_it(tmp_path):
    # Broadcast, DVD and HDV video store two fields filmed 1/50 s apart, woven row by row: a square that moves 6 pixels
    # between them is drawn combed (even rows at x, odd rows at x + 6). Players deinterlace; so does the reader now,
    # keeping the top field (the even rows) and filling each odd row with the mean of its neighbours.
    h, w, n = 48, 64, 4
    first = np.full((n, h, w, 3), 40, np.uint8)  # what the top field filmed
    second = first.copy()  # and the bottom one, a moment later
    for t in range(n):
        first[t, 10:31, 5 + 4 * t:25 + 4 * t] = (230, 40, 40)
        second[t, 10:31, 11 + 4 * t:31 + 4 * t] = (230, 40, 40)
    woven = first.copy()
    woven[:, 1::2] = second[:, 1::2]
    path = write_video(tmp_path / "interlaced.mp4", woven, "libx264", "yuv444p",
                       codec_options={"x264-params": "interlaced=1"})  # lossless (qp 0)
    with av.open(path) as container:
        assert all(f.interlaced_frame for f in container.decode(video=0))
    frames = read_video_frames(path).astype(int)
    assert np.abs(frames[:, 0::2] - woven[:, 0::2]).max() <= 2  # the top field, kept
    below = np.concatenate([woven[:, 2::2], woven[:, -2:-1]], axis=1).astype(int)  # rows 2, 4, ..., and 46 again
    np.testing.assert_allclose(frames[:, 1::2], (woven[:, 0::2] + below + 1) // 2, atol=2)
    # No comb left: away from the square's top and bottom edges, each frame is the top field's picture.
    rows = np.r_[0:8, 12:29, 33:h]
    assert np.abs(frames[:, rows] - first[:, rows]).max() <= 2
    progressive = write_video(tmp_path / "progressive.mp4", woven, "libx264", "yuv444p")  # stored combed, not marked
    assert np.abs(read_video_frames(progressive).astype(int) - woven).max() <= 2


def test_a_turn_that_is_not_a_quarter_keeps_the_stored_frames_and_says_so(tmp_path, caplog):
    stored = moving_frames(2, 24, 40, seed=4)
    c, s = round(np.cos(np.pi / 4) * 65536), round(np.sin(np.pi / 4) * 65536)
    path = write_video(tmp_path / "tilted.mkv", stored, "ffv1", "bgr0", display=[c, s, 0, -s, c, 0, 0, 0, 1 << 30])
    with caplog.at_level("WARNING"):
        np.testing.assert_array_equal(read_video_frames(path), stored)
    warning = "tilted.mkv: its display matrix turns it 45.0 degrees clockwise, not a multiple of 90"
    assert caplog.text.count(warning) == 1  # once for the video, not once a frame


@pytest.mark.parametrize("damaged", ["error", "skip"])
def test_a_matroska_file_of_a_header_and_no_frame_says_so(tmp_path, damaged):
    """A reviewer's: "cannot decode the video (EOFError: [Errno 541478725] End of file: 'zero.mkv')", FFmpeg's
    number and the path twice."""
    with av.open(str(tmp_path / "zero.mkv"), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()  # the header, then no frame
    with pytest.raises(DataError, match=r"zero\.mkv: the video has no frame: the file ends after its header$"):
        list(iter_video_frames(str(tmp_path / "zero.mkv"), damaged=damaged))


def test_a_matroska_download_cut_short_says_where_it_ends(tmp_path, caplog):
    """A reviewer's MKV cut at half its bytes played its 22 frames of 60 without a word: Matroska declares no frame
    count (the MP4's check), only the duration."""
    full = write_video(tmp_path / "full.mkv", moving_frames(30, 32, 48, seed=6), "libx264", "yuv420p")
    data = Path(full).read_bytes()
    cut = tmp_path / "download.mkv"
    cut.write_bytes(data[:len(data) // 2])
    with caplog.at_level("WARNING"):
        held = list(iter_video_frames(str(cut), damaged="skip"))
        assert len(list(iter_video_frames(full, damaged="skip"))) == 30
    assert 0 < len(held) < 27
    assert [r.getMessage() for r in caplog.records if "the file ends" in r.getMessage()] == [
        f"{cut}: the file ends at frame {len(held)}, shown until {len(held) / 12:.2f} s, of the 2.50 s its "
        "container says it lasts (cut short?): segmented up to where it ends"]
    # a reviewer's whole files called cut short: a variable frame rate (the average rate guessed from the first
    # frames), and sound that runs on past the picture (the container's duration is the longest stream's)
    caplog.clear()
    vfr = write_video(tmp_path / "vfr.mkv", moving_frames(15, 32, 48, seed=6), "libx264", "yuv420p",
                      pts=[*range(10), *range(12, 72, 12)])
    with_sound = write_video_with_tone(tmp_path / "sound.mkv", moving_frames(12, 32, 48, seed=6))
    with caplog.at_level("WARNING"):
        assert len(list(iter_video_frames(vfr, damaged="skip"))) == 15
        assert len(list(iter_video_frames(with_sound, damaged="skip"))) == 12
    assert "the file ends" not in caplog.text


def test_a_truncated_download_gives_the_frames_it_holds_where_damage_is_skipped(tmp_path, caplog):
    # The index first ("faststart", as served for download), then the file cut: players show the frames up to the cut.
    frames = moving_frames(30, 48, 64, seed=6)
    full = write_video(tmp_path / "full.mp4", frames, "libx264", "yuv420p", options={"movflags": "faststart"})
    data = Path(full).read_bytes()
    cut = tmp_path / "download.mp4"
    cut.write_bytes(data[:len(data) * 3 // 5])
    whole = read_video_frames(full)
    with caplog.at_level("WARNING"):
        held = np.stack(list(iter_video_frames(str(cut), damaged="skip")))
    assert 0 < len(held) < 30
    np.testing.assert_array_equal(held, whole[:len(held)])
    assert (f"download.mp4: 1 damaged packet skipped, as players skip them (FFmpeg: InvalidDataError: Invalid data "
            f"found when processing input); {len(held)} frames decoded of the 30 its container declares") in caplog.text
    with pytest.raises(DataError, match=r"download\.mp4: cannot decode the video \(InvalidDataError"):
        read_video_frames(str(cut))  # the converters' default: frame k must be decoded frame k - 1
    with pytest.raises(ValueError, match="damaged must be 'error' or 'skip', got 'ignore'"):
        next(iter_video_frames(full, damaged="ignore"))


def test_an_mp4_cut_anywhere_before_its_index_ends_is_named_cut_short(tmp_path):
    """Its index (`moov`) last, as recorders write it: cut in its frames, or in the index itself, none of its frames can
    be found. A fuzzing tester's cuts at every 5 %: FFmpeg's words differed by the byte ("no video stream", "Invalid
    data", "End of file"), and a cut at 75 % gave PyAV a stream without a codec: `AttributeError: 'NoneType' object
    has no attribute 'name'` and a traceback from `acga predict`. Each is now refused as cut short, in its words."""
    full = write_video(tmp_path / "full.mp4", moving_frames(24, 48, 64, seed=7), "libx264", "yuv420p")
    data = Path(full).read_bytes()
    index = data.rfind(b"moov") - 4  # where the index begins
    assert index > len(data) // 2 and data[:index].count(b"moov") == 0
    for k in range(1, 19):  # nine cuts in its frames, nine in its index
        size = index * k // 10 if k < 10 else index + (len(data) - index) * (k - 9) // 11
        cut = tmp_path / f"cut{k}.mp4"
        cut.write_bytes(data[:size])
        said = (rf"cut{k}\.mp4: an MP4 cut short inside its index \(the 'moov' box, which most recorders write "
                rf"last\): {size:,} of its {len(data):,} bytes are there" if size > index else
                rf"cut{k}\.mp4: an MP4 cut short before its index \(no 'moov' box")
        with pytest.raises(DataError, match=said) as refused:
            read_video_frames(str(cut))
        assert refused.value.reason == "corrupt_video"
        assert video_fps(str(cut), default=7.0) == 7.0  # the container's facts: none, not an AttributeError
    # a whole file whose video is in a codec FFmpeg cannot decode (a reviewer's `avc1` tag patched to `zzzz`): named
    # as such, not "no video stream" (which it was once PyAV's codec-less stream stopped being an AttributeError)
    (tmp_path / "unknown.mp4").write_bytes(data.replace(b"avc1", b"zzzz"))
    with pytest.raises(DataError, match=r"unknown\.mp4: FFmpeg has no decoder for its video \(a codec this FFmpeg "
                                        r"does not know\)$"):
        read_video_frames(str(tmp_path / "unknown.mp4"))
    # its last bytes (the index's user data, here) are not needed to find the frames: they decode, all of them
    (tmp_path / "cut19.mp4").write_bytes(data[:index + (len(data) - index) * 10 // 11])
    np.testing.assert_array_equal(read_video_frames(str(tmp_path / "cut19.mp4")), read_video_frames(full))


def test_a_cover_picture_stored_before_the_video_is_not_taken_for_it(tmp_path):
    # Some files store their cover picture (one frame) as a first video stream; players and ffmpeg play the video.
    frames = moving_frames(6, 24, 40, seed=7)
    path = tmp_path / "with_cover.mkv"
    with av.open(str(path), "w") as container:
        cover = container.add_stream("mjpeg", rate=1)
        video = container.add_stream("ffv1", rate=12)
        cover.width, cover.height, cover.pix_fmt = 40, 24, "yuvj420p"
        video.width, video.height, video.pix_fmt = 40, 24, "bgr0"
        encode_frames(container, cover, frames[:1] // 2)
        encode_frames(container, video, frames)
    np.testing.assert_array_equal(read_video_frames(str(path)), frames)  # lossless FFV1: exactly the video
    assert video_fps(str(path)) == 12


def _seekable_videos(tmp_path):
    """40 frames with a keyframe every 8 and B-frames, in the containers users have: (name, path)."""
    frames = moving_frames(40, 48, 64, seed=8)
    x264 = X264_GOP_8
    # An open GOP: the B-frames that follow each I-frame in the file show before it and refer to the GOP before.
    open_gop = {"qp": "20", "x264-params": "keyint=8:min-keyint=8:scenecut=0:bframes=3:open-gop=1"}
    return [
        ("closed GOP mp4", write_video(tmp_path / "closed.mp4", frames, "libx264", "yuv420p", codec_options=x264)),
        ("open GOP mkv", write_video(tmp_path / "open.mkv", frames, "libx264", "yuv420p", codec_options=open_gop)),
        ("VP9 webm", write_video(tmp_path / "vp9.webm", frames, "libvpx-vp9", "yuv420p",
                                 codec_options={"g": "8", "lossless": "1"})),
        ("portrait phone mp4", write_video(tmp_path / "phone.mp4", frames, "libx264", "yuv420p", display=(90, 0, 0),
                                           codec_options=x264)),
        ("variable frame rate mp4", write_video(tmp_path / "vfr.mp4", frames, "libx264", "yuv420p", codec_options=x264,
                                                pts=[2 * t if t < 20 else 40 + 5 * (t - 20) for t in range(40)])),
    ]


def test_a_reader_from_frame_k_seeks_to_the_keyframe_before_it_and_gives_what_decoding_from_the_start_gives(
        tmp_path, monkeypatch):
    """`iter_video_frames(start=k)` (docs/data.md#videos): frames k, k + 1, ... and their times, as decoding the whole
    file gives them (turned upright, at a variable rate too), decoding from the last keyframe at or before frame k."""
    decoded = count_decoded(monkeypatch)
    for name, path in _seekable_videos(tmp_path):
        times = []
        whole = list(iter_video_frames(path, times=times))
        assert len(whole) == 40, name
        for start in (1, 7, 8, 9, 23, 32, 39):
            decoded.clear()
            part_times = []
            part = list(iter_video_frames(path, start=start, times=part_times))
            assert len(part) == 40 - start, (name, start)
            for k, (a, b) in enumerate(zip(part, whole[start:])):
                np.testing.assert_array_equal(a, b, err_msg=f"{name}: frame {start + k} read from frame {start}")
            assert part_times == times[start:], (name, start)
            if start >= 16:  # decoded from the keyframe before frame `start` (8 or fewer back), not from the start;
                # an open GOP's 3 leading frames decode after its keyframe
                assert len(decoded) <= 40 - start + 8 + 3, (name, start, len(decoded))


def test_a_seek_that_misses_its_frame_decodes_from_the_start(tmp_path, monkeypatch, caplog):
    # A container whose seek lands past the keyframe asked for (simulated: MPEG-TS and MPEG-PS seek by a byte search,
    # which landed late on files written by `ffmpeg`): the reader notices by the first frame's time and starts over.
    frames = moving_frames(24, 48, 64, seed=9)
    path = write_video(tmp_path / "late.mp4", frames, "libx264", "yuv420p", codec_options=X264_GOP_8)
    seek = video._seek

    def late(container, stream, start):
        target = seek(container, stream, start)
        container.seek(target + 8 * int(1 / (stream.time_base * 12)), stream=stream)  # 8 frames later
        return target
    monkeypatch.setattr(video, "_seek", late)
    with caplog.at_level("DEBUG", logger="acga_tf.data.video"):
        part = list(iter_video_frames(path, start=10))
    np.testing.assert_array_equal(np.stack(part), read_video_frames(path)[10:])
    assert "late.mp4: seeking to frame 10 missed it; decoding from the start" in caplog.text


def test_a_reader_from_frame_k_of_a_download_cut_short(tmp_path, caplog):
    frames = moving_frames(40, 48, 64, seed=10)
    full = write_video(tmp_path / "full.mp4", frames, "libx264", "yuv420p", options={"movflags": "faststart"},
                       codec_options=X264_GOP_8)
    data = Path(full).read_bytes()
    cut = tmp_path / "download.mp4"
    cut.write_bytes(data[:len(data) * 3 // 5])
    held = list(iter_video_frames(str(cut), damaged="skip"))
    with caplog.at_level("WARNING"):
        part = list(iter_video_frames(str(cut), damaged="skip", start=17))
    np.testing.assert_array_equal(np.stack(part), np.stack(held[17:]))
    assert f"{len(held)} frames decoded of the 40 its container declares" in caplog.text
    with pytest.raises(DataError, match=rf"download\.mp4: the video has no decodable frame from frame {len(held)} on"):
        next(iter_video_frames(str(cut), damaged="skip", start=len(held)))


def test_hdr_conversion_runs_in_a_process_forked_after_it_ran():
    # `sdr_from_hdr` converts bands of rows on a pool of threads; a forked child (Beam's workers may fork) gets the
    # parent's pool without its threads, and would wait for them for ever: it makes its own. Run in a fresh Python
    # that loads colour.py alone (numpy only): forking this one, which holds JAX's and TensorFlow's threads, is unsafe.
    import subprocess
    import sys

    script = f"""
import importlib.util, multiprocessing, sys, numpy as np
spec = importlib.util.spec_from_file_location("colour", {str(Path(colour.__file__))!r})
colour = sys.modules["colour"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colour)
image = np.full((130, 8, 3), 49152, np.uint16)  # three bands of HLG 75%: white
expected = colour.sdr_from_hdr(image, "hlg")
assert (expected == 255).all()
with multiprocessing.get_context("fork").Pool(1) as pool:
    np.testing.assert_array_equal(pool.apply_async(colour.sdr_from_hdr, (image, "hlg")).get(timeout=60), expected)
print("forked child converted")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "forked child converted" in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("layout", ["5.1", "7.1", "mono"])
def test_the_sound_keeps_its_channels_so_surround_is_not_clipped(layout, tmp_path):
    """A video editor's finding: 5.1 and 7.1 sound was mixed down to stereo by FFmpeg's matrix, which adds the centre
    and surrounds to each side, so a tone at half scale in every channel peaked at 1.25 to 1.59 and was clipped. Its
    channels are now kept (AAC carries up to 7.1); players mix down to what the room has."""
    frames = moving_frames(24, 48, 64)
    # packed samples: PyAV 18 cannot make planar frames of 8 channels
    source = write_video_with_tone(tmp_path / "surround.mp4", frames, layout=layout, fmt="flt")
    picture = write_video(tmp_path / "picture.mp4", frames, "libx264", "yuv420p")
    assert add_audio(picture, source, str(tmp_path / "out.mp4"), 0.0, 2.0)

    def peaks(path):  # each channel's peak in the 440 Hz part, and the layout's name
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels
            packed = av.AudioResampler(format="flt")  # planar frames of 8 channels crash PyAV 18's to_ndarray
            samples = np.concatenate([piece.to_ndarray().reshape(-1, channels).T for frame in container.decode(stream)
                                      for piece in packed.resample(frame)], axis=1)
            return np.abs(samples[:, round(0.1 * stream.rate):round(0.8 * stream.rate)]).max(axis=1), \
                stream.codec_context.layout.name

    (before, named), (after, written) = peaks(source), peaks(tmp_path / "out.mp4")
    assert named == written == layout, (named, written)  # before: "stereo" for 5.1 and 7.1
    np.testing.assert_allclose(after, before, rtol=0.1)  # before: 1.2 where the source had 0.5


def test_every_sound_track_is_kept_with_its_language_and_title(tmp_path, monkeypatch, caplog):
    """A screen recording keeps the desktop's sound and the microphone on separate tracks (OBS), a camera its
    microphones: before, only the first track was kept (the microphone lost). Each keeps its tone, in its order, with
    its language and title."""
    frames = moving_frames(24, 48, 64)
    source, rate = str(tmp_path / "recording.mp4"), 48000
    with av.open(source, "w") as container:
        picture = container.add_stream("libx264", rate=12)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        tracks = []
        for title in ("desktop", "microphone"):
            track = container.add_stream("aac", rate=rate, layout="mono")
            track.metadata.update(title=title, language="eng" if title == "desktop" else "fra")
            tracks.append(track)
        encode_frames(container, picture, frames)
        t = np.arange(2 * rate) / rate
        for track, hz in zip(tracks, (440, 880)):
            tone = (0.5 * np.sin(2 * np.pi * hz * t))[None].astype(np.float32)
            mux_sound(container, track, (audio_frame(tone[:, b:b + 1024], "fltp", "mono", rate, b)
                                         for b in range(0, len(t), 1024)))
    out = str(tmp_path / "out.mp4")
    assert add_audio(write_video(tmp_path / "picture.mp4", frames, "libx264", "yuv420p"), source, out, 0.5, 1.5)
    with av.open(out) as container:
        kept = [(s.metadata.get("name"), s.metadata.get("language")) for s in container.streams.audio]  # MP4's title
    sounds = []
    for k in range(len(kept)):
        with av.open(out) as container:  # a second decode of one opening would start at its end
            sounds.append(np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=k)]))
    assert kept == [("desktop", "eng"), ("microphone", "fra")]  # before: the first track alone
    for samples, hz in zip(sounds, (440, 880)):
        assert abs(len(samples) / rate - 1.0) < 0.05
        assert dominant_frequency(samples, rate, 0.2, 0.8) == hz
    # a track FFmpeg has no decoder for is left out, named in a warning; with none left, a ValueError
    monkeypatch.setattr(video, "has_decoder", lambda stream: stream.metadata.get("name") != "microphone")
    with caplog.at_level("WARNING"):
        assert add_audio(tmp_path / "picture.mp4", source, out, 0.5, 1.5)
    with av.open(out) as container:
        assert [s.metadata.get("name") for s in container.streams.audio] == ["desktop"]
    assert "recording.mp4: FFmpeg has no decoder for its sound (mp4a): audio track 2 of 2 left out" in caplog.text
    monkeypatch.setattr(video, "has_decoder", lambda stream: False)
    with pytest.raises(ValueError, match=r"recording\.mp4: FFmpeg has no decoder for its sound \(mp4a\)$"):
        add_audio(tmp_path / "picture.mp4", source, out, 0.5, 1.5)


def test_frames_lost_to_damaged_packets_keep_the_containers_numbering(tmp_path, caplog):
    """A batch tester's finding: three damaged packets in the middle of a video were skipped, as players skip them,
    and every later frame moved three places up (the mask PNG named for frame 10 was frame 13's). Lost frames are now
    filled with the next good frame's picture, where the container's index still lists their packets (an MP4's)."""
    frames = moving_frames(24, 48, 64, seed=3)
    path = write_video(tmp_path / "clip.mp4", frames, "libx264", "yuv420p")
    whole = read_video_frames(path)
    with av.open(path) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(open(path, "rb").read())
    for position, size in packets[9:12]:
        data[position:position + size] = bytes(size)  # zeros: not H.264
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    times = []
    with caplog.at_level("WARNING"):
        held = np.stack(list(iter_video_frames(str(damaged), damaged="skip", times=times)))
    assert len(held) == 24 and len(times) == 24  # before: 21, numbered 0 to 20
    np.testing.assert_array_equal(held[12:], whole[12:])  # frame k is the container's frame k
    for k in (9, 10, 11):
        np.testing.assert_array_equal(held[k], held[12])
    assert times == sorted(times) and times[10] == pytest.approx(10 / 12, abs=1e-3)
    assert "damaged.mp4: 3 frames lost to damaged packets (from frame 10 on) filled with the next good frame's " \
           "picture" in caplog.text
    # from a frame after the damage, where there is no keyframe to seek to but the first (x264's keyframes are 250
    # frames apart): the same frames (a reviewer's: frames 15 and 16 were a later one's, a resumed run's masks off)
    for start in (5, 10, 11, 15):
        np.testing.assert_array_equal(np.stack(list(iter_video_frames(str(damaged), damaged="skip", start=start))),
                                      held[start:], err_msg=str(start))


def test_a_half_read_frame_iterator_closes_quietly_at_exit(tmp_path, monkeypatch):
    """A library integrator's: a frame iterator left half-read printed "Exception ignored in: <generator object
    iter_video_frames ...> ... TypeError: catching classes that do not inherit from BaseException is not allowed" at
    interpreter exit, where PyAV's module attributes are already gone when the generator is closed. Here the attribute
    is taken away as at exit, then the generator closed."""
    path = str(tmp_path / "clip.mp4")
    write_video(path, moving_frames(6, 32, 48), "libx264", "yuv420p")
    frames = iter_video_frames(path)
    next(frames)
    monkeypatch.setattr(video.av, "FFmpegError", None)
    frames.close()  # before: the TypeError


_FULL_DISK_VIDEO = r"""
import os, resource, signal, sys
import numpy as np
import tensorflow as tf
from acga_tf.data.video import write_mp4
from acga_tf.ops import files
folder = sys.argv[1]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk (ENOSPC)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))  # even the file's header
frames = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
for name in ("a.mp4", "b.mp4"):
    try:
        write_mp4(os.path.join(folder, name), frames)
    except OSError as e:
        print(e)
try:  # TensorFlow's writers name their own temporary file: the caller's file is named
    with files.atomic_path(os.path.join(folder, "c.tfrecord")) as temporary, tf.io.TFRecordWriter(temporary) as w:
        w.write(b"x" * 1000)
except OSError as e:
    print(e)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no file size limit on this system")
def test_a_video_that_cannot_be_written_is_one_error_naming_it_and_no_file(tmp_path):
    """A Unix user's `acga demo` into a full disk died of a segmentation fault (status 139): after the failed write,
    the writer's exit flushed the encoder into the failed muxer, which wrote the file's header again. `write_mp4` now
    abandons the file, names the file asked for (not its temporary one) and leaves none."""
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK_VIDEO, str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [f"[Errno 27] File too large: '{tmp_path / name}'"
                                        for name in ("a.mp4", "b.mp4", "c.tfrecord")], proc.stdout
    assert os.listdir(tmp_path) == []


# === Folders of frames (docs/serving.md#predict): a researcher's J-HMDB, DAVIS and camera folders ===
def _frames_folder(folder, frames, name="{:05d}.png", **save):
    from PIL import Image

    folder.mkdir(parents=True)
    for i, frame in enumerate(frames, 1):
        Image.fromarray(frame).save(folder / name.format(i), **save)
    return folder


@pytest.mark.parametrize("orientation", range(1, 9))
def test_camera_jpegs_are_turned_as_their_exif_orientation_says(tmp_path, orientation):
    """Every JPEG with EXIF data failed: "31 is not a valid Type" (PyAV cannot list FFmpeg 8's EXIF side data).
    Turned and mirrored as image viewers show them (Pillow's `exif_transpose`): a mirroring orientation (2, 4, 5, 7)
    came out turned half round (2, 5, 7) or as stored (4), PyAV's `frame.rotation` keeping the turn alone."""
    from PIL import Image, ImageOps

    exif = Image.Exif()
    exif[0x0112] = orientation
    folder = _frames_folder(tmp_path / "camera", moving_frames(2, 40, 56, seed=2), "{:05d}.jpg", exif=exif, quality=95)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(folder / "00001.jpg")).convert("RGB"), np.int16)
    first = next(iter_video_frames(str(folder))).astype(np.int16)
    assert first.shape == shown.shape  # two JPEG decoders: a few levels apart; turned or mirrored otherwise, tens
    assert np.abs(first - shown).mean() < 8
    for wrong in (np.rot90(shown, 2), shown[::-1], shown[:, ::-1]):
        assert np.abs(first - wrong).mean() > 8
    single = next(iter_video_frames(str(folder / "00001.jpg"))).astype(np.int16)  # one camera picture, as a video
    assert np.abs(single - shown).mean() < 8


def test_each_camera_picture_of_a_folder_is_turned_by_its_own_orientation(tmp_path):
    """A phone-app tester's folder of photos tagged 6 then 8 (the phone held one way, then the other; stored alike):
    every frame was turned by the first's tag, the second half upside down (masks IoU 0), exit 0; a folder whose
    pictures show two sizes was refused only at the odd frame, "as stored", after the masks before it."""
    from PIL import Image, ImageOps

    frames = moving_frames(6, 40, 56, seed=5)
    folder = tmp_path / "phone"
    folder.mkdir()
    for k, frame in enumerate(frames):
        exif = Image.Exif()
        exif[0x0112] = 6 if k < 3 else 8
        Image.fromarray(frame).save(folder / f"{k + 1:05d}.jpg", exif=exif, quality=95)
    got = np.stack(list(iter_video_frames(str(folder)))).astype(np.int16)
    for k in range(6):
        shown = np.asarray(ImageOps.exif_transpose(Image.open(folder / f"{k + 1:05d}.jpg")).convert("RGB"), np.int16)
        assert got[k].shape == shown.shape and np.abs(got[k] - shown).mean() < 8, k
    assert list(iter_video_frames(str(folder), start=4))[0].shape == got[4].shape  # seeking: the frame's own tag
    exif = Image.Exif()
    exif[0x0112] = 1
    Image.fromarray(frames[0]).save(folder / "00004.jpg", exif=exif, quality=95)  # shows 56 x 40, the others 40 x 56
    with pytest.raises(DataError) as refused:
        next(iter_video_frames(str(folder)))
    assert str(refused.value) == (f"{folder}: frames of different sizes: 00001.jpg shows 40x56, 00004.jpg 56x40 "
                                  "(width x height, turned as its EXIF says): a folder of frames holds the frames of "
                                  "one video")


def test_a_link_to_nothing_given_as_the_video_is_named_as_one(tmp_path):
    """A fuzzing tester's links given as the video: a loop of links was "video file not found (in ..., the current
    folder)", sending him to look for a file; a link to a missing file said nothing of the link either."""
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    (tmp_path / "latest.mp4").symlink_to("takes/3.mp4")
    for name, said in (("a.mp4", "a link that leads back to itself (through other links), not a video file"),
                       ("latest.mp4", f"a link to {tmp_path / 'takes' / '3.mp4'}, which does not exist")):
        with pytest.raises(DataError) as refused:
            next(iter_video_frames(str(tmp_path / name)))
        assert str(refused.value) == f"{tmp_path / name}: {said}" and refused.value.reason == "missing_video"


def test_a_frames_folder_reads_what_ffmpeg_reads_or_names_the_frame_at_fault(tmp_path, caplog):
    frames = moving_frames(6, 24, 32, seed=4)
    odd = _frames_folder(tmp_path / r"clip\1 {a,b} [x]*?", frames)  # glob(3)'s characters, taken literally
    (odd / "._00001.png").write_bytes(b"macOS metadata")  # hidden files are passed over, as FFmpeg's glob does
    (odd / ".DS_Store").write_bytes(b"")
    np.testing.assert_array_equal(np.stack(list(iter_video_frames(str(odd)))), frames)
    for name, spoil, why in (("empty", lambda f: f.write_bytes(b""), "is empty (0 bytes)"),
                             ("folder", lambda f: (f.unlink(), f.mkdir()), "is a folder"),
                             ("link", lambda f: (f.unlink(), f.symlink_to(tmp_path / "nowhere")), "is a broken link"),
                             # a fuzzing tester's: "[Errno 40] Too many levels of symbolic links", a bare OSError
                             ("loop", lambda f: (f.unlink(), f.symlink_to(f.with_name("00004.png")),
                                                 (f.with_name("00004.png")).unlink(),
                                                 f.with_name("00004.png").symlink_to(f)),
                              "is a link that leads back to itself (through other links)")):
        folder = _frames_folder(tmp_path / name, frames)
        spoil(folder / "00003.png")  # an empty frame: FFmpeg stopped there, frames 4 to 6 lost without a word
        with pytest.raises(DataError) as refused:
            next(iter_video_frames(str(folder)))
        assert str(refused.value) == (f"{folder}: its frame 00003.png {why}: a folder of frames holds PNG or JPEG "
                                      "files alone")
    widths = _frames_folder(tmp_path / "widths", frames[:3])
    (widths / "00002.png").rename(widths / "000002.png")
    with pytest.raises(DataError, match=r"its frames' names do not sort in the order of their numbers: name order "
                                        r"puts 000002.png before 00001.png"):
        next(iter_video_frames(str(widths)))
    damaged = _frames_folder(tmp_path / "damaged", frames)
    data = (damaged / "00003.png").read_bytes()
    (damaged / "00003.png").write_bytes(data[:40] + bytes(len(data) - 40))  # its image data zeroed
    with caplog.at_level("WARNING"):
        assert len(list(iter_video_frames(str(damaged), damaged="skip"))) == 6
    # named from 1, as the masks are, and by its file (a researcher's warning said "from frame 2 on")
    assert "1 frame lost to damaged packets (from frame 3 (00003.png) on)" in caplog.text, caplog.text


@pytest.mark.parametrize("damaged", ["error", "skip"])
def test_a_folder_of_pngs_named_jpg_names_its_first_frame(tmp_path, damaged):
    """A tester's folder of PNGs saved under `.jpg` names (as some exporters write them) said "its frames cannot be
    read (FFmpeg: Invalid data found ...)", and `acga predict` (which skips damaged frames) "the video has no
    decodable frame", naming no file: FFmpeg reads a folder's frames by their extension."""
    frames = moving_frames(3, 24, 32, seed=4)
    for extension, saved, kind, named, rename in ((".jpg", "PNG", "PNG", "JPEG", ".png"),
                                                  (".png", "JPEG", "JPEG", "PNG", ".jpg")):
        folder = tmp_path / f"as{extension}"
        folder.mkdir()
        for k, frame in enumerate(frames):
            Image.fromarray(frame).save(folder / f"{k + 1:05d}{extension}", format=saved)
        with pytest.raises(DataError) as refused:
            next(iter_video_frames(str(folder), damaged=damaged))
        assert str(refused.value) == (f"{folder}: its frame 00001{extension} is a {kind} picture, named as {named}: "
                                      f"FFmpeg reads a folder's frames by their extension; name the frames {rename}")
    # a reviewer's: a phone's JPEG with an MPF block, which Pillow calls "MPO", is a JPEG to FFmpeg
    phone = tmp_path / "phone"
    phone.mkdir()
    Image.fromarray(frames[0]).save(phone / "00001.jpg", format="MPO", save_all=True,
                                    append_images=[Image.fromarray(frames[1])])
    with Image.open(phone / "00001.jpg") as image:
        assert image.format == "MPO"
    assert video._misnamed_frame(str(phone)) is None


def test_a_video_trimmed_by_its_edit_list_is_not_called_cut_short(tmp_path, caplog):
    """A phone-app tester's MOV trimmed as the iPhone's Photos app trims (an edit list showing the second of its two
    seconds) was segmented right but warned "the file ends at frame 30 of the 60 its container declares (cut
    short?)", in results.csv too: the container's sample count is not what it shows."""
    path = tmp_path / "trimmed.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for t in range(60):
            image = np.full((48, 64, 3), 4 * t, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(path.read_bytes())
    at = data.index(b"elst") + 12  # version/flags, entry count, then the first entry
    movie_duration = int.from_bytes(data[at:at + 4], "big")
    media_time = int.from_bytes(data[at + 4:at + 8], "big")
    data[at:at + 4] = (movie_duration // 2).to_bytes(4, "big")  # show half the video ...
    data[at + 4:at + 8] = (media_time + stream.time_base.denominator).to_bytes(4, "big")  # ... from 1 s on
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="acga_tf.data.video"):
        frames = np.stack(list(iter_video_frames(str(path), damaged="skip")))
    assert len(frames) == 30 and abs(frame_values(frames)[0] - 120) < 3  # the second second's frames
    assert "cut short" not in caplog.text


def test_a_video_this_process_may_not_read_is_named_so(tmp_path, monkeypatch):
    """A chaos tester's `chmod 000` video was "cannot decode the video (PermissionError: ...)": a damaged file's words
    for a readable one's permissions. (The check is replaced here: root, as the suite may run, reads any file.)"""
    from acga_tf.ops import files  # noqa: PLC0415

    path = write_video(tmp_path / "clip.mp4", moving_frames(3, 24, 32), "libx264", "yuv420p")
    monkeypatch.setattr(files, "unreadable", lambda p: "Permission denied" if p == str(path) else None)
    with pytest.raises(DataError, match=rf"^{path}: cannot be read \(Permission denied\): check its owner and "
                                        r"permissions$"):
        next(iter_video_frames(str(path)))


def test_an_overlay_with_hours_between_two_frames_is_written_and_says_so(tmp_path, caplog):
    """A fuzzing tester's source with 10 hours between frames (a motion-triggered camera's file): the overlay's MP4
    could not be closed ("Not yet implemented in FFmpeg, patches welcome") or its times wrapped around (frames 17 µs
    apart). A gap longer than an MP4 is written with (1.24 hours) is shortened to it, with a warning; shorter ones are
    kept."""
    with caplog.at_level("WARNING"), video.Mp4Writer(str(tmp_path / "gaps.mp4"), fps=25) as writer:
        for time in (0.0, 1.0, 4000.0, 4001.0, 40001.0, 40002.0, 76002.0, 76003.0):
            writer.write(np.full((32, 48, 3), 90, np.uint8), time=time)
    with av.open(str(tmp_path / "gaps.mp4")) as container:
        times = [float(frame.time) for frame in container.decode(video=0)]
    longest = video.MAX_FRAME_GAP_TICKS / video.TIME_SCALE  # 1.24 hours
    np.testing.assert_allclose(times, [0, 1, 4000, 4001, 4001 + longest, 4002 + longest, 4002 + 2 * longest,
                                       4003 + 2 * longest], atol=1e-4)
    assert caplog.text.count("more than an MP4 is written with between two frames") == 2
    assert "frame 5 comes 10.0 hours after the one before it" in caplog.text
    assert ("frame 7 comes 10.0 hours after the one before it, more than an MP4 is written with between two frames: "
            f"it and later frames are written {2 * (10 - longest / 3600):.1f} hours early") in caplog.text
    # an overlay with the source's sound: the sound would run late after the shortened gap (a reviewer's), so the
    # overlay has none, and says why
    from acga_tf.apps.predict import OverlayWriter
    source = write_video_with_tone(tmp_path / "tone.mp4", moving_frames(4, 32, 48, seed=2))
    caplog.clear()
    for times, sound in (((0.0, 0.1, 0.2, 0.3), True), ((0.0, 0.1, 20000.0, 20000.1), False)):
        with caplog.at_level("WARNING"):
            writer = OverlayWriter(str(tmp_path / "overlay.mp4"), 12.0, audio=source)
            for time in times:
                writer.write(np.full((32, 48, 3), 90, np.uint8), time)
            writer.close()
        with av.open(str(tmp_path / "overlay.mp4")) as container:
            assert bool(container.streams.audio) == sound, times
    assert "overlay.mp4: the sound is left out: frames were moved earlier to shorten a gap" in caplog.text
    assert "overlay.mp4: frame 3 comes 5.6 hours after" in caplog.text and ".tmp" not in caplog.text  # (the file
    # it becomes: a QA tester's warning named `gap_o.mp4.tmp`, gone after the run)


def _joined_streams(tmp_path, n=30, fps=12):
    """Two MPEG-TS files joined end to end (`cat a.ts b.ts`, as cameras' and broadcasts' files are joined): the second
    one's times start again from where the first one's started. Returns (path, the frames as written)."""
    frames = moving_frames(2 * n, 32, 48, seed=11)
    parts = [write_video(tmp_path / f"part{k}.ts", frames[k * n:(k + 1) * n], "libx264", "yuv420p", fps=fps)
             for k in range(2)]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(Path(part).read_bytes() for part in parts))
    return str(joined), frames


@pytest.mark.parametrize("n", [30, 8])
def test_streams_joined_end_to_end_are_timed_on_from_the_first_and_their_frames_found_by_number(tmp_path, n):
    """Before: the second stream's frame times went back to the first's (the masks JSON said 0.0 at frame 31), an
    overlay showed the second stream in a few milliseconds (each frame one tick after the last), and `--start`
    found frames among both streams' times sorted together. Streams of 2.5 s, and of 0.67 s, whose times start again
    by less than a second (found by the keyframe that starts the second)."""
    fps = 12
    path, frames = _joined_streams(tmp_path, n, fps)
    with av.open(path) as container:  # (what the file says: times that start again)
        raw = [float(frame.time) for frame in container.decode(video=0)]
    assert raw[n] < raw[n - 1]
    expected = [k / fps for k in range(2 * n)]
    assert video.frame_times(path) == pytest.approx(expected, abs=1e-6)
    times = []
    decoded = list(iter_video_frames(path, times=times))
    assert len(decoded) == 2 * n and [t - times[0] for t in times] == pytest.approx(expected, abs=1e-6)
    for start in (n - 2, n + 3):  # a part, or a resumed run, from either stream: the frame of that number
        part = list(iter_video_frames(path, start=start, max_frames=start + 3))
        for k, image in enumerate(part):
            np.testing.assert_array_equal(image, decoded[start + k])
    # times that repeat (a muxer's mistake) are one frame apart too, where each had been one tick after the last
    timeline = video.Timeline()
    assert [timeline(t) for t in (0.0, 0.5, 1.0, 1.0, 1.5, 0.2, 0.7)] == pytest.approx(
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


def test_a_slideshow_at_one_frame_a_second_is_one_run_of_times(tmp_path):
    """A reviewer's: at 1 fps, libx264's B-frames are shown seconds before the packet decoded ahead of them, and a
    threshold of one second cut a 30-frame slideshow into five runs of times: `--start 12` picked frame 9."""
    path = str(tmp_path / "slides.mp4")
    with av.open(path, "w") as container:  # libx264's defaults, as `ffmpeg -framerate 1 -i slide%d.png` encodes
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        encode_frames(container, stream, moving_frames(30, 32, 48, seed=12))
    with av.open(path) as container:  # B-frames shown more than a second before a packet decoded ahead of them
        second = 1 / container.streams.video[0].time_base
        stamps = [p.pts for p in container.demux(video=0) if p.pts is not None]
    assert any(pts < max(stamps[:k]) - second for k, pts in enumerate(stamps) if k)
    assert video.frame_times(path) == pytest.approx(list(range(30)))
    assert video.times_start_again(path) is None
    decoded = list(iter_video_frames(path))
    for start in (9, 12):
        np.testing.assert_array_equal(next(iter_video_frames(path, start=start)), decoded[start])


def test_frames_lost_up_to_start_are_timed_once(tmp_path, monkeypatch):
    """A reviewer's: where frames before `start` were lost to damaged packets, the frame that reached `start` was
    timed twice (passed over, then yielded), and every later time came one frame late."""
    path = write_video(tmp_path / "intra.mp4", moving_frames(12, 32, 48, seed=13), "libx264", "yuv420p", fps=25,
                       codec_options={"x264-params": "keyint=1"})
    def losing_frames_2_and_3(container, stream, skipped):
        for packet in container.demux(stream):
            if packet.pts is not None and round(float(packet.pts * stream.time_base) * 25) in (2, 3):
                skipped.append("lost")
                continue
            yield from packet.decode()

    whole = []
    list(iter_video_frames(path, times=whole, damaged="skip"))
    monkeypatch.setattr(video, "_decode", losing_frames_2_and_3)
    part = []
    list(iter_video_frames(path, times=part, damaged="skip", start=3))
    assert part == pytest.approx(whole[3:])


def test_frames_a_decoder_shows_out_of_order_at_a_join_are_timed_as_frame_times_gives_them(tmp_path, monkeypatch):
    """A tester's file joined inside a GOP of its second stream: the decoder showed one of the second stream's frames
    before the first stream's last, and the reader timed the frames after it 1.5 s apart each (1.6, 3.04, 4.52 s),
    where `frame_times` gave 1.64, 1.68, ...: a part's times were not the whole run's. (The decoder's order here: the
    first frame of the second stream and the last of the first swapped.)"""
    n = 8
    path, _ = _joined_streams(tmp_path, n, 12)
    decode = video._decode

    def swapped_at_the_join(container, stream, skipped):
        frames = list(decode(container, stream, skipped))
        frames[n - 1], frames[n] = frames[n], frames[n - 1]
        yield from frames

    monkeypatch.setattr(video, "_decode", swapped_at_the_join)
    times = []
    list(iter_video_frames(path, times=times))
    assert [t - times[0] for t in times] == pytest.approx(video.frame_times(path), abs=1e-6)
    part = []
    list(iter_video_frames(path, times=part, start=n + 2))
    assert part == pytest.approx(times[n + 2:], abs=1e-6)


def test_a_cameras_pause_is_one_run_of_times(tmp_path):
    """A B-frame decoded after a pause (the times jump 5 s forward) is shown before it: a threshold in seconds alone
    took it for times that start again, and `frame_times` put it after the pause (0.67, then 5.83 s for 0.75 s)."""
    path = str(tmp_path / "paused.mkv")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        encode_frames(container, stream, moving_frames(16, 32, 48, seed=9), [*range(10), *range(70, 76)])
    times = []
    list(iter_video_frames(path, times=times))
    assert times == pytest.approx([k / 12 for k in [*range(10), *range(70, 76)]], abs=1e-3)
    assert video.frame_times(path) == pytest.approx(times, abs=1e-6)
    assert video.times_start_again(path) is None


def test_frames_the_decoder_leaves_out_at_a_join_keep_the_times_going_forward(tmp_path):
    """A reviewer's: two copies of an MPEG-TS cut from an open GOP's keyframe (its leading frame, shown before it,
    cannot decode) joined end to end. The packets count 74 frames, the decoder shows 70; timed from the packets past
    the join, a frame repeated the time before it (1.92, 1.92), and each later one came a frame early."""
    full, cut = tmp_path / "full.ts", tmp_path / "cut.ts"
    with av.open(str(full), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={
            "x264-params": "open-gop=1:keyint=12:min-keyint=12:bframes=3:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        encode_frames(container, stream, moving_frames(48, 32, 48, seed=3))
    with av.open(str(full)) as source, av.open(str(cut), "w", format="mpegts") as out:  # from the second keyframe
        into, keys = out.add_stream_from_template(source.streams.video[0]), 0
        for packet in source.demux(source.streams.video[0]):
            keys += bool(packet.dts is not None and packet.is_keyframe)
            if packet.dts is not None and keys >= 2:
                packet.stream = into
                out.mux(packet)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(cut.read_bytes() * 2)
    times = []
    shown = len(list(iter_video_frames(str(joined), times=times)))
    assert shown < len(video.frame_times(str(joined)))  # (frames the decoder leaves out)
    assert np.diff(times) == pytest.approx([0.04] * (shown - 1), abs=1e-6)


def test_a_file_that_starts_inside_a_gop_counts_the_frames_its_decoder_shows(tmp_path):
    """A recorder's split: an MPEG-TS whose first packets refer to frames before the file. Decoders show nothing
    before its first keyframe (nor that keyframe's leading frames); `frame_times` counted their packets (33 times for
    24 frames, a tester's), so `--start` picked the frame before the one shown then, and its times were not the whole
    run's."""
    full, cut = tmp_path / "full.ts", tmp_path / "cut.ts"
    with av.open(str(full), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"x264-params": "keyint=12:bframes=3:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        encode_frames(container, stream, moving_frames(48, 32, 48, seed=4))
    with av.open(str(full)) as source, av.open(str(cut), "w", format="mpegts") as out:  # from the 5th packet on
        into = out.add_stream_from_template(source.streams.video[0])
        for k, packet in enumerate(p for p in source.demux(source.streams.video[0]) if p.dts is not None):
            if k >= 5:
                packet.stream = into
                out.mux(packet)
    times = []
    decoded = list(iter_video_frames(str(cut), times=times, damaged="skip"))
    shown = video.frame_times(str(cut))
    assert len(shown) == len(decoded) < 43
    assert [t - times[0] for t in times] == pytest.approx(shown, abs=1e-6)
    for start in (3, 20):  # a part from frame `start`: that frame
        np.testing.assert_array_equal(next(iter_video_frames(str(cut), start=start, damaged="skip")), decoded[start])
