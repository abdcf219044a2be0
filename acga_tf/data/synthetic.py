"""A small synthetic referring-segmentation world written in the exact A2D Sentences / J-HMDB Sentences layouts.

Each video shows coloured shapes ("actors") on a plain or noisy background. An actor has three attributes:
colour (red, green, blue, yellow), shape (square, circle, triangle) and motion (moving left/right/up/down,
standing still). The files follow docs/data.md#datasets (A2D: `videoset.csv`, `a2d_annotation.txt`,
`a2d_missed_videos.txt`, per-frame `.h5` with MATLAB-transposed `reMask`, `clips320H/<vid>.mp4`; J-HMDB:
`Rename_Images` PNGs, `puppet_mask.mat`, `jhmdb_annotation.txt`), so the real readers and converters run on them.

Sentence rule (A2D world). Video layouts cycle through full, parity, full, pair, full, random (`LAYOUTS`), and
the test videos are drawn per layout, so every split gets all of them in the same proportions:
- "full": 4 actors, an anchor plus three neighbours that each differ from it in exactly one attribute (one in
  colour, one in shape, one in motion); the anchor's sentence needs colour, shape AND motion.
- "parity": 4 actors (c1,s1,m1), (c1,s2,m2), (c2,s1,m2), (c2,s2,m1): any two differ in exactly two attributes,
  so every sentence needs two attributes.
- "pair": 3 actors, an anchor plus two neighbours that differ from it in one attribute each (two different
  attributes); the anchor needs two attributes.
- "random": 2 or 3 actors with random distinct attribute triples.
Each actor's sentence names only the attributes of a smallest attribute subset whose values no other actor of the
video shares (ties broken at random from the seed): "the red square moving left", "the blue object", "the circle",
"the object standing still". The noun is the shape when shape is named, "object" otherwise. J-HMDB world videos
have one actor, described by all three attributes. Masks are the exact drawn shapes; actors are drawn in instance
order and a later actor occludes an earlier one (masks exclude occluded pixels); an actor with fewer than
`MIN_VISIBLE_PIXELS` visible pixels in an annotated frame is left out of that frame's `instance` list.
Everything is derived from `seed`: annotation files are byte-identical and decoded videos identical for a seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import numbers
import os

import h5py
import numpy as np
import scipy.io
from PIL import Image

from acga_tf.data import video

logger = logging.getLogger(__name__)

COLOURS = {"red": (210, 40, 40), "green": (40, 180, 60), "blue": (50, 70, 220), "yellow": (230, 210, 40)}
SHAPES = ("square", "circle", "triangle")
MOTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0), "still": (0.0, 0.0)}
MOTION_PHRASES = {"left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
                  "still": "standing still"}
ATTRIBUTES = ("colour", "shape", "motion")
# Video layouts, used in turn (see the module docstring); "full" is every other video so that many held-out
# sentences need all three attributes.
LAYOUTS = ("full", "parity", "full", "pair", "full", "random")
MIN_VISIBLE_PIXELS = 20
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
JHMDB_ACTIONS = ("pullup", "brush_hair", "wave", "walk")


@dataclasses.dataclass(frozen=True)
class Actor:
    """One drawn shape: attributes, size and trajectory (centre at frame t = start + t * velocity)."""

    colour: str
    shape: str
    motion: str
    radius: float
    start: tuple[float, float]  # (x, y) centre at frame 0
    velocity: tuple[float, float]  # pixels per frame

    def centre(self, t: int) -> tuple[float, float]:
        return self.start[0] + t * self.velocity[0], self.start[1] + t * self.velocity[1]

    def attribute(self, name: str) -> str:
        return getattr(self, name)


def distinguishing_attributes(actors: list[Actor], index: int, rng: np.random.Generator) -> tuple[str, ...]:
    """A smallest attribute subset whose values tell actor `index` apart from every other actor of the video.

    Ties between subsets of the same size are broken with `rng`. With a single actor, all three attributes.

    Raises:
        ValueError: two actors share all three attributes.
    """
    me = actors[index]
    others = [a for i, a in enumerate(actors) if i != index]
    if not others:
        return ATTRIBUTES
    for size in (1, 2, 3):
        ok = [s for s in itertools.combinations(ATTRIBUTES, size)
              if all(any(o.attribute(n) != me.attribute(n) for n in s) for o in others)]
        if ok:
            return ok[int(rng.integers(len(ok)))]
    raise ValueError(f"actor {index} ({me.colour} {me.shape} {me.motion}) is identical to another actor")


def describe(actor: Actor, attributes: tuple[str, ...]) -> str:
    """The sentence naming only `attributes` of `actor`, e.g. "the red square moving left"."""
    words = ["the"]
    if "colour" in attributes:
        words.append(actor.colour)
    words.append(actor.shape if "shape" in attributes else "object")
    if "motion" in attributes:
        words.append(MOTION_PHRASES[actor.motion])
    return " ".join(words)


def _attribute_triples(layout: str, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    values = {"colour": tuple(COLOURS), "shape": SHAPES, "motion": tuple(MOTIONS)}

    def pick(name, exclude=()):
        choices = [v for v in values[name] if v not in exclude]
        return choices[int(rng.integers(len(choices)))]

    anchor = {n: pick(n) for n in ATTRIBUTES}
    if layout == "parity":
        other = {n: pick(n, exclude=(anchor[n],)) for n in ATTRIBUTES}
        triples = [{"colour": c, "shape": s, "motion": m}
                   for c, s, m in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))]
        triples = [{n: (anchor, other)[t[n]][n] for n in ATTRIBUTES} for t in triples]
    elif layout in ("full", "pair"):
        changed = list(ATTRIBUTES) if layout == "full" else [ATTRIBUTES[i] for i in sorted(rng.choice(3, 2, False))]
        triples = [anchor]
        for name in changed:
            t = dict(anchor)
            t[name] = pick(name, exclude=(anchor[name],))
            triples.append(t)
    else:
        n = int(rng.integers(2, 4))
        triples = []
        while len(triples) < n:
            t = {name: pick(name) for name in ATTRIBUTES}
            if t not in triples:
                triples.append(t)
    order = rng.permutation(len(triples))
    return [(triples[i]["colour"], triples[i]["shape"], triples[i]["motion"]) for i in order]


def _place_actors(triples, rng: np.random.Generator, height: int, width: int, num_frames: int,
                  actor_size: float = 0.18) -> list[Actor]:
    """Random start positions keeping every trajectory inside the frame and actors mostly apart."""
    radius = actor_size * height
    speed = 0.3 * height / max(1, num_frames - 1)
    best, best_gap = None, -1.0
    for _ in range(200):
        actors = []
        for colour, shape, motion in triples:
            r = radius * float(rng.uniform(0.85, 1.15))
            vx, vy = (speed * d for d in MOTIONS[motion])
            travel_x, travel_y = vx * (num_frames - 1), vy * (num_frames - 1)
            m = r + 2
            x_lo, x_hi = m - min(0.0, travel_x), width - m - max(0.0, travel_x)
            y_lo, y_hi = m - min(0.0, travel_y), height - m - max(0.0, travel_y)
            start = (float(rng.uniform(x_lo, x_hi)), float(rng.uniform(y_lo, y_hi)))
            actors.append(Actor(colour, shape, motion, r, start, (vx, vy)))
        t = np.arange(num_frames)[:, None]
        centres = np.stack([np.concatenate([a.start[0] + t * a.velocity[0], a.start[1] + t * a.velocity[1]], 1)
                            for a in actors])  # (N, T, 2)
        gap = min(float(np.min(np.linalg.norm(centres[i] - centres[j], axis=-1))
                        / (actors[i].radius + actors[j].radius))
                  for i, j in itertools.combinations(range(len(actors)), 2)) if len(actors) > 1 else 9.0
        if gap > best_gap:
            best, best_gap = actors, gap
        if gap >= 0.8:  # centres at least 0.8 (r_i + r_j) apart at all times: only a little overlap
            break
    return best


def _shape_mask(actor: Actor, t: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    cx, cy = actor.centre(t)
    r = actor.radius
    if actor.shape == "square":
        return (np.abs(xx - cx) <= 0.9 * r) & (np.abs(yy - cy) <= 0.9 * r)
    if actor.shape == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    # triangle pointing up: apex at (cx, cy − r), base at y = cy + r with half-width 1.15 r
    frac = (yy - (cy - r)) / (2 * r)
    return (frac >= 0) & (frac <= 1) & (np.abs(xx - cx) <= 1.15 * r * frac)


def render(actors: list[Actor], rng: np.random.Generator, height: int, width: int,
           num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws the actors over a plain or noisy background.

    Returns:
        frames: uint8 (T, H, W, 3) RGB.
        masks: bool (T, N, H, W), the visible pixels of each actor (later actors occlude earlier ones).
    """
    level = float(rng.uniform(70, 140))
    background = np.full((height, width, 3), level, np.float32)
    if rng.random() < 0.5:
        background += rng.normal(0.0, 8.0, (height, width, 1)).astype(np.float32)
    background = np.clip(background, 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.repeat(background[None], num_frames, axis=0)
    masks = np.zeros((num_frames, len(actors), height, width), bool)
    for t in range(num_frames):
        for i, actor in enumerate(actors):
            m = _shape_mask(actor, t, yy, xx)
            masks[t, :i] &= ~m
            masks[t, i] = m
            frames[t][m] = COLOURS[actor.colour]
    return frames, masks


def write_mp4(path: str, frames: np.ndarray, fps: int = 24) -> str:
    """Encodes uint8 (T, H, W, 3) RGB frames (H, W even) as H.264 yuv420p (MPEG-4 Part 2 if no libx264).

    Returns:
        The codec used.
    """
    # Constant quantiser: x264's CRF rate control gave different bytes from run to run here; qp does not.
    return video.write_mp4(path, frames, fps, options={"qp": "12", "preset": "veryfast"})


def _check_sizes(sizes: dict, even: tuple[str, ...] = ("height", "width")) -> None:
    """Refuses, naming the argument, a size that is not an integer of at least 1 (even, for the sizes named in
    `even`: the height and width of an H.264 yuv420p video)."""
    for name, value in sizes.items():
        must_be_even = name in even or name.startswith("widths[") and "width" in even
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1 or (
                must_be_even and value % 2):
            raise ValueError(f"{name}={value!r}: must be "
                             + ("an even integer >= 2 (yuv420p)" if must_be_even else "an integer >= 1"))


def write_example_video(path: str, seed: int = 0, *, height: int = 160, width: int = 208,
                        num_frames: int = 24) -> list[str]:
    """Writes one synthetic video (the world's first layout: every actor differs from another in all three
    attributes) as an MP4; returns one sentence per actor, each naming what tells it apart. The example of
    `acga app` and of the quick start.

    Args:
        path: the MP4 file to write.
        seed: everything derives from it.
        height, width: frame size (even: yuv420p).
        num_frames: frames (at 24 fps).

    Raises:
        ValueError: a size that is not a positive integer, or an odd height or width (the message names it).
    """
    _check_sizes({"height": height, "width": width, "num_frames": num_frames})
    rng = np.random.default_rng(seed)
    actors = _place_actors(_attribute_triples(LAYOUTS[0], rng), rng, height, width, num_frames)
    frames, _ = render(actors, rng, height, width, num_frames)
    write_mp4(path, frames)
    return [describe(a, distinguishing_attributes(actors, i, rng)) for i, a in enumerate(actors)]


def _video_ids(rng: np.random.Generator, n: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        vid = "".join(ID_ALPHABET[i] for i in rng.integers(0, len(ID_ALPHABET), 11))
        if vid not in ids:
            ids.append(vid)
    return ids


def _bbox(mask: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _action_id(actor: Actor) -> int:
    # A2D-style id = 10·actor + action (docs/data.md#datasets), here 10·(shape+1) + (motion+1): diagnostics only.
    return 10 * (SHAPES.index(actor.shape) + 1) + list(MOTIONS).index(actor.motion) + 1


def _test_ids(rng: np.random.Generator, ids: list[str], n_videos: int, test_fraction: float) -> set[str]:
    """round(n · test_fraction) test videos, stratified by layout: each layout's videos are ranked at random and the
    videos with the lowest relative rank (rank + 0.5) / layout size are taken, so both splits get the mix."""
    keys = {}
    for layout in dict.fromkeys(LAYOUTS):
        members = [v for v in range(n_videos) if LAYOUTS[v % len(LAYOUTS)] == layout]
        for rank, i in enumerate(rng.permutation(len(members))):
            keys[members[i]] = ((rank + 0.5) / len(members), float(rng.random()))
    n_test = int(np.floor(n_videos * test_fraction + 0.5))
    return {ids[v] for v in sorted(keys, key=keys.get)[:n_test]}


def _write_instance_masks(folder: str, actors: list, masks: np.ndarray, annotated: tuple[int, ...]
                          ) -> tuple[int, int]:
    """One A2D `.h5` per annotated frame (MATLAB-transposed `reMask`, `reBBox`, `id`, `instance`) of the actors
    visible in it; returns (annotated frames with a visible actor, samples)."""
    os.makedirs(folder, exist_ok=True)
    frames = samples = 0
    for k in annotated:
        m = masks[k - 1]  # (N, H, W): annotated frame k is decoded frame k − 1
        visible = [i for i in range(len(actors)) if m[i].sum() >= MIN_VISIBLE_PIXELS]
        frames += 1 if visible else 0
        samples += len(visible)
        stack = np.stack([m[i].T for i in visible]).astype(np.uint8)  # (N, W, H): MATLAB transposition
        with h5py.File(os.path.join(folder, f"{k:05d}.h5"), "w") as f:
            f.create_dataset("reMask", data=stack[0] if len(visible) == 1 else stack)
            f.create_dataset("reBBox", data=np.array([_bbox(m[i]) for i in visible], np.float64).T)
            f.create_dataset("id", data=np.array([[_action_id(actors[i]) for i in visible]], np.float64))
            f.create_dataset("instance", data=np.array(visible, np.int64))
    return frames, samples


def write_a2d_world(root: str, n_videos: int = 48, seed: int = 0, *, height: int = 160,
                    widths: tuple[int, ...] = (192, 208, 176), num_frames: int = 24,
                    annotated: tuple[int, ...] = (8, 12, 16), test_fraction: float = 0.25,
                    actor_size: float = 0.18) -> dict:
    """Writes a synthetic dataset in the A2D Sentences layout (docs/data.md#datasets) under `root`.

    Args:
        root: the `a2d_sentences/` folder to create.
        n_videos: videos with sentences (one more, without sentences, is listed as missed).
        seed: everything derives from it.
        height: frame height (even).
        widths: frame widths (even), used in turn.
        num_frames: frames per video.
        annotated: 1-based annotated frame numbers (one `.h5` each).
        test_fraction: share of videos with usage 1 (test).
        actor_size: actor radius as a fraction of the height (large enough that an actor covers about one cell of
            the S/16 grid at the tiny preset's S = 64).

    Returns:
        A summary: {"root", "codec", "missed", "train", "test", "frames", "sentences", "samples",
        "needed_attributes": {count: sentences}, "test_needed_attributes" (same, test split),
        "videos": {vid: {"split", "width", "layout", "actors": [...]}}},
        each actor a dict with instance_id, colour, shape, motion, sentence, attributes.

    Raises:
        ValueError: bad sizes (not positive integers, an odd height or width), no videos, a `test_fraction` outside
            [0, 1], or annotated frame numbers outside the video; the message names the argument.
    """
    _check_sizes({"n_videos": n_videos, "height": height, "num_frames": num_frames,
                  **{f"widths[{i}]": w for i, w in enumerate(widths)}})
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 <= test_fraction <= 1:
        raise ValueError(f"test_fraction={test_fraction!r}: must be a number in [0, 1]")
    if not annotated or min(annotated) < 1 or max(annotated) > num_frames:
        raise ValueError(f"annotated frames {annotated} must lie in [1, {num_frames}]")
    rng = np.random.default_rng(seed)
    ids = _video_ids(rng, n_videos + 1)
    missed = ids.pop()
    test_ids = _test_ids(rng, ids, n_videos, test_fraction)
    release = os.path.join(root, "Release")
    clips = os.path.join(release, "clips320H")
    text = os.path.join(root, "text_annotations")
    instances = os.path.join(text, "a2d_annotation_with_instances")
    for d in (clips, instances):
        os.makedirs(d, exist_ok=True)

    videoset_rows, annotation_rows = [], ["video_id,instance_id,query"]
    summary: dict = {"root": os.fspath(root), "missed": missed, "train": 0, "test": 0, "frames": 0,
                     "sentences": 0, "samples": 0, "needed_attributes": {1: 0, 2: 0, 3: 0},
                     "test_needed_attributes": {1: 0, 2: 0, 3: 0}, "videos": {}}
    codec = None
    for v, vid in enumerate(ids):
        vrng = np.random.default_rng([seed, v])
        width = int(widths[v % len(widths)])
        layout = LAYOUTS[v % len(LAYOUTS)]
        triples = _attribute_triples(layout, vrng)
        actors = _place_actors(triples, vrng, height, width, num_frames, actor_size)
        frames, masks = render(actors, vrng, height, width, num_frames)
        codec = write_mp4(os.path.join(clips, f"{vid}.mp4"), frames)
        split = "test" if vid in test_ids else "train"
        summary[split] += 1
        info = {"split": split, "width": width, "layout": layout, "actors": []}
        for i, actor in enumerate(actors):
            attrs = distinguishing_attributes(actors, i, vrng)
            sentence = describe(actor, attrs)
            annotation_rows.append(f"{vid},{i},{sentence}")
            summary["sentences"] += 1
            summary["needed_attributes"][len(attrs)] += 1
            if split == "test":
                summary["test_needed_attributes"][len(attrs)] += 1
            info["actors"].append({"instance_id": i, "colour": actor.colour, "shape": actor.shape,
                                   "motion": actor.motion, "sentence": sentence, "attributes": list(attrs)})
        frames_written, samples = _write_instance_masks(os.path.join(instances, vid), actors, masks, annotated)
        summary["frames"] += frames_written
        summary["samples"] += samples
        videoset_rows.append(f"{vid},{_action_id(actors[0])},0,{num_frames / 24:g},{height},{width},"
                             f"{num_frames},{len(annotated)},{1 if split == 'test' else 0}")
        summary["videos"][vid] = info
    videoset_rows.append(f"{missed},11,0,1,{height},{widths[0]},{num_frames},0,0")
    _write_text(os.path.join(release, "videoset.csv"), videoset_rows)
    _write_text(os.path.join(text, "a2d_annotation.txt"), annotation_rows)
    _write_text(os.path.join(text, "a2d_missed_videos.txt"), [missed])
    summary["codec"] = codec
    logger.info("wrote A2D world at %s: %d train / %d test videos, %d sentences, %d samples", root,
                summary["train"], summary["test"], summary["sentences"], summary["samples"])
    return summary


def write_jhmdb_world(root: str, n_videos: int = 4, seed: int = 0, *, height: int = 120, width: int = 160,
                      num_frames: int = 20, num_masks: int | None = None) -> dict:
    """Writes a synthetic dataset in the J-HMDB Sentences layout (docs/data.md#datasets) under `root`.

    One actor per video, described by colour, shape and motion. `puppet_mask.mat` has `num_masks` frames
    (default `num_frames − 2`, fewer than the PNGs, as in the real data).

    Returns:
        {"root", "videos": {name: {"action", "sentence", "num_pngs", "num_masks", "actor": {...}}}}.
    """
    _check_sizes({"n_videos": n_videos, "height": height, "width": width, "num_frames": num_frames}, even=())  # PNGs
    num_masks = max(1, num_frames - 2) if num_masks is None else num_masks
    _check_sizes({"num_masks": num_masks})
    if num_masks > num_frames:
        raise ValueError(f"num_masks={num_masks}: at most num_frames={num_frames} (the masks are of the PNG frames)")
    rng = np.random.default_rng(seed)
    rows = ["video_id,query"]
    summary: dict = {"root": os.fspath(root), "videos": {}}
    for v in range(n_videos):
        vrng = np.random.default_rng([seed, 1_000_003, v])
        action = JHMDB_ACTIONS[v % len(JHMDB_ACTIONS)]
        name = f"synthetic_{action}_{v:03d}_(take_{int(rng.integers(1, 10))})"
        triple = (tuple(COLOURS)[int(vrng.integers(4))], SHAPES[int(vrng.integers(3))],
                  tuple(MOTIONS)[int(vrng.integers(5))])
        actors = _place_actors([triple], vrng, height, width, num_frames)
        frames, masks = render(actors, vrng, height, width, num_frames)
        png_dir = os.path.join(root, "Rename_Images", action, name)
        mat_dir = os.path.join(root, "puppet_mask", action, name)
        os.makedirs(png_dir, exist_ok=True)
        os.makedirs(mat_dir, exist_ok=True)
        for t in range(num_frames):
            Image.fromarray(frames[t]).save(os.path.join(png_dir, f"{t + 1:05d}.png"))
        part_mask = np.ascontiguousarray(masks[:num_masks, 0].transpose(1, 2, 0).astype(np.uint8))  # (H, W, T)
        scipy.io.savemat(os.path.join(mat_dir, "puppet_mask.mat"), {"part_mask": part_mask})
        sentence = describe(actors[0], ATTRIBUTES)
        rows.append(f"{name},{sentence}")
        summary["videos"][name] = {"action": action, "sentence": sentence, "num_pngs": num_frames,
                                   "num_masks": num_masks,
                                   "actor": {"colour": triple[0], "shape": triple[1], "motion": triple[2]}}
    _write_text(os.path.join(root, "jhmdb_annotation.txt"), rows)
    return summary


def _write_text(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
