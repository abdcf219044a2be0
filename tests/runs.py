"""A saved tiny run with random weights and synthetic videos: what the predict and visualize tests share
(imported as `from runs import ...`; the `run_dir` and `trained` fixtures in conftest.py build on it)."""

import av
import keras
import numpy as np

from acga_tf.data import video
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
from acga_tf.training import artifacts

QUERY = "the red circle jumping on the left"
# Lossy H.264 (lossless has no B-frames) with a keyframe every 8 frames and two B-frames between references: a file
# the video reader can seek in (`write_video(..., codec_options=X264_GOP_8)`).
X264_GOP_8 = {"qp": "20", "x264-params": "keyint=8:min-keyint=8:scenecut=0:bframes=2"}


def make_run(directory, seed=0):
    """A saved tiny trained run (random weights) with a vocabulary covering QUERY."""
    keras.utils.set_random_seed(seed)
    model = ACGA(ACGAConfig.preset("tiny"))
    # Random logits lie within ±0.4, so σ ≥ 0.5 × max everywhere: scale the fusion kernel so the maps have a
    # real foreground and background (the relative threshold, docs/evaluation.md#protocol, then selects part of each
    # frame).
    fusion = next(w for w in model.weights if w.path == "decoder/conv_fusion/kernel")
    fusion.assign(fusion * 40.0)
    vocab = Vocabulary.build([QUERY, "a blue square walking", "the green triangle rolling right"])
    matrix, _ = vocab.embedding_matrix(dim=model.config.word_dim, seed=0)
    artifacts.save_trained(str(directory), model, vocab, matrix)
    return str(directory)


def moving_frames(n, h, w, seed=0):
    """uint8 (n, h, w, 3): a bright square that moves across a noisy background, so every clip differs."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 80, (n, h, w, 3), dtype=np.uint8)
    side = max(h, w) // 4
    for t in range(n):
        y, x = (t * 3) % max(h - side, 1), (t * 5) % max(w - side, 1)
        frames[t, y:y + side, x:x + side] = (230, 40, 40)
    return frames


def write_video(path, frames, codec, pix_fmt, fps=12, display=None, options=None, codec_options=None, pts=None,
                sample_aspect=None):
    """Encodes frames; `display` is (degrees counter-clockwise, hflip, vflip), stored as the display matrix that
    players (and FFmpeg's tool) apply, the way phones store portrait videos; or a 9-int matrix. `options` are the
    container's (e.g. {"movflags": "faststart"}: the index first, as files served for download have it),
    `codec_options` the encoder's (libx264: lossless by default; {"x264-params": "keyint=8"}: a keyframe every 8
    frames), `pts` the frames' times in 1 / fps (`encode_frames`), `sample_aspect` the pixels' aspect of an
    anamorphic video (a Fraction; libx264 stores it in the stream, FFV1 in MKV does not)."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if display is not None and len(display) == 9:
            stream.set_display_matrix(display)
        elif display is not None:
            stream.set_display_rotation(display[0], hflip=display[1], vflip=display[2])
        stream.options = {**({"qp": "0"} if codec == "libx264" else {}), **(codec_options or {})}
        if sample_aspect is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect
        encode_frames(container, stream, frames, pts)
    return str(path)


def encode_frames(container, stream, frames, pts=None):
    """Encodes uint8 (H, W, 3) RGB frames into `stream` of the open `container` (at `pts`, in the stream's time
    base: 0, 1, ... by default) and flushes it."""
    for t, img in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = t if pts is None else pts[t]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_video_with_tone(path, frames, fps=12, codec="aac", layout="stereo", rate=48000, fmt="fltp", gap=None):
    """A video with a sound track as long as its frames: a 440 Hz tone in the first half, 880 Hz in the second (so a
    part's sound can be told from another's by `dominant_frequency`). `gap` (start, end) seconds: no sound is stored
    there, the times after it kept (a recorder that dropped sound)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        sound = container.add_stream(codec, rate=rate)
        sound.layout = layout
        encode_frames(container, stream, frames)
        seconds = len(frames) / fps
        t = np.arange(round(seconds * rate)) / rate
        tone = 0.5 * np.sin(2 * np.pi * np.where(t < seconds / 2, 440, 880) * t)
        channels = len(sound.layout.channels)

        def pieces():
            for begin in range(0, len(t), 1024):
                if gap is not None and gap[0] * rate <= begin < gap[1] * rate:
                    continue
                piece = np.tile(tone[begin:begin + 1024], (channels, 1))
                if fmt in ("s16", "flt"):  # packed: one row of interleaved samples
                    piece = piece.T.reshape(1, -1)
                piece = (piece * 32767).astype(np.int16) if fmt == "s16" else piece.astype(np.float32)
                yield audio_frame(np.ascontiguousarray(piece), fmt, layout, rate, begin)

        mux_sound(container, sound, pieces())
    return str(path)


def mux_sound(container, stream, frames):
    """Encodes the AudioFrames `frames` with `stream` and muxes the packets into `container`, then flushes it."""
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_music_with_cover(path, seconds=1.0, rate=44100):
    """An MP3 of silence with a cover picture, as music files store theirs: an MJPEG stream of one frame marked as
    an attached picture (FFmpeg reads it as a video stream)."""
    with av.open(str(path), "w") as container:
        sound = container.add_stream("mp3", rate=rate, layout="stereo")
        cover = container.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture.reformat(format="yuvj420p")), *cover.encode()]:
            container.mux(packet)
        mux_sound(container, sound, (audio_frame(np.zeros((2, 1152), np.float32), "fltp", "stereo", rate, begin)
                                     for begin in range(0, round(seconds * rate), 1152)))
    return str(path)


def audio_frame(samples, fmt, layout, rate, pts):
    frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout=layout)
    frame.sample_rate, frame.pts = rate, pts
    return frame


def read_sound(path):
    """(first channel's samples as float, rate, codec name, channels) of a file's audio stream, or None."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(stream)])
        return samples, stream.rate, stream.codec_context.name, stream.codec_context.channels


def dominant_frequency(samples, rate, start, end):
    """The strongest frequency (Hz) of `samples` between `start` and `end` seconds."""
    piece = samples[round(start * rate):round(end * rate)]
    return float(np.argmax(np.abs(np.fft.rfft(piece)))) * rate / len(piece)


def count_decoded(monkeypatch) -> list:
    """A list that gets the timestamp of every frame the video reader decodes from now on (`monkeypatch` wraps
    `acga_tf.data.video._decode`): what a seek saves."""
    decoded = []
    decode = video._decode

    def counting(*args):
        for frame in decode(*args):
            decoded.append(frame.pts)
            yield frame
    monkeypatch.setattr(video, "_decode", counting)
    return decoded
