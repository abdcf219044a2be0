"""Plain records shared by the dataset readers, the converters and the input pipeline (docs/data.md#datasets)."""

from __future__ import annotations

import dataclasses

from acga_tf.ops.exceptions import InputError

# The most pixels a frame may have (8K UHD, 7680 × 4320), checked from headers before anything is decoded (a file of a
# few bytes can declare any size): the video reader's streams, the records' images, the SavedModel's encoded frames.
MAX_FRAME_PIXELS = 7680 * 4320
# The longest sentence a dataset's record may hold, in UTF-8 bytes: the datasets' longest are a few hundred
# characters, and the model reads at most 1024 words of one (`ACGAConfig.sentence_length`). A record holding a
# sentence of 60 MB was scored at a peak of 2.9 GB.
MAX_SENTENCE_BYTES = 1 << 16


class DataError(InputError):
    """A problem with the user's data (an `InputError`: a `ValueError`). `source` names the file (and line or
    field), `message` the problem without it; `reason` is a short code (e.g. "missing_video", "bad_row") used in
    `skipped.csv`; `referral`, where the problem is one sentence's own (its mask), that `Referral`: `--skip-bad` then
    leaves out that sentence, not its frame."""

    def __init__(self, source: str, message: str, reason: str = "bad_input", referral: Referral | None = None):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.reason = reason
        self.referral = referral


@dataclasses.dataclass(frozen=True)
class Referral:
    """One sentence that refers to one actor of an annotated frame.

    Attributes:
        sentence: normalised text, `" ".join(q.lower().split())` (docs/data.md#datasets).
        instance_id: A2D instance id (docs/data.md#datasets); 0 for J-HMDB (one human per video); for your own
            data, the actor's number in its frame (0, 1, ... by its mask, in the table's order).
        line: "path:lineno" of the annotation row, for error messages.
        mask: your own data's mask image of this actor (docs/data.md#your-own-data); "" for A2D and J-HMDB, whose
            masks are the frame's `mask_path`.
        mask_value: the pixel value of the actor in `mask` (a palette index or grey level); None: every pixel of
            the foreground (docs/data.md#your-own-data).
        absent_ok: a mask without the actor (empty, or without `mask_value`) is the actor absent from the frame, a
            sample with an empty target (`acga prepare custom --keep-absent`), not a mistake to refuse.
        class_id: A2D's actor-action id of the instance, 10 x actor + action (the `.h5`'s `id` field;
            docs/evaluation.md#by-class), for `acga evaluate --by-class`; 0 where unknown (J-HMDB, your own data).
    """

    sentence: str
    instance_id: int
    line: str = ""
    mask: str = ""
    mask_value: int | None = None
    absent_ok: bool = False
    class_id: int = 0


@dataclasses.dataclass(frozen=True)
class AnnotatedFrame:
    """An annotated frame with every sentence that refers to an actor in it: stored once per frame.

    Attributes:
        dataset: "a2d", "jhmdb" or "custom" (your own data).
        split: "train" or "test".
        video_id: A2D YouTube id, J-HMDB video folder name, or your own video's path from its table's folder
            without its extension.
        frame_number: 1-based frame number (file name of the .h5 / .png).
        frames_path: the A2D .mp4 file (or your own video), or the J-HMDB folder of 00001.png ... frames.
        mask_path: the A2D per-frame .h5, the J-HMDB puppet_mask.mat, or your own data's first referral's mask.
        num_frames: usable frames when known from annotations (J-HMDB: min(pngs, masks)); None for A2D.
        referrals: the sentences, in annotation-file order.
    """

    dataset: str
    split: str
    video_id: str
    frame_number: int
    frames_path: str
    mask_path: str
    num_frames: int | None
    referrals: tuple[Referral, ...]

    @property
    def key(self) -> str:
        """A unique id of the frame: "<video_id>/<frame_number:05d>"."""
        return f"{self.video_id}/{self.frame_number:05d}"


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An item left out with `--skip-bad`: where it is and why (one row of `skipped.csv`)."""

    source: str
    reason: str
    message: str
