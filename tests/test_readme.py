"""The README's Python quick start runs as written (building the model, one forward pass, saving)."""

import os
import re
import shutil

from support import REPO


def test_readme_model_quick_start_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The model in Python"):text.index("## Pretrained weights")]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md (The model in Python)", "exec"), namespace)
    config = namespace["config"]
    assert tuple(namespace["out"]["logits"].shape) == (1, config.image_size, config.image_size, 1)
    assert os.path.exists(tmp_path / "acga.keras")


def test_readme_opens_with_the_demo_and_test_commands():
    first_block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    lines = first_block.strip().splitlines()
    assert "acga demo" in lines[0] and "pytest" in lines[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[test]"' in ci and "python3 -m pytest -q" in ci


def test_docs_fine_tuning_recipe_reads_sentences_with_the_runs_word_vectors(run_dir, prepared_a2d, tmp_path,
                                                                            monkeypatch):
    """docs/model.md#fine-tuning as written, on a run whose word vectors are not the random ones `make_dataset`
    makes without a vectorizer (as a run trained with `--word-vectors` has). Before, the recipe loaded `model.keras`
    alone and fine-tuned on the random vectors, without an error."""
    import numpy as np

    import acga_tf.data
    from acga_tf.training.artifacts import EMBEDDINGS_FILE

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    embeddings = np.load(run / EMBEDDINGS_FILE)
    other = np.random.default_rng(7).normal(size=embeddings.shape).astype(embeddings.dtype)
    other[0] = 0  # padding and unknown words
    np.save(run / EMBEDDINGS_FILE, other)
    rows = np.load(run / EMBEDDINGS_FILE)
    seen = []
    make_dataset = acga_tf.data.make_dataset

    def recording(*args, **kwargs):
        dataset = make_dataset(*args, **kwargs)
        seen.append(next(iter(dataset))[0]["words"].numpy())
        return dataset

    monkeypatch.setattr(acga_tf.data, "make_dataset", recording)
    text = (REPO / "docs" / "model.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text[text.index("## Fine-tuning"):], re.S)[0]
    block = (block.replace('"run"', repr(str(run))).replace('"data/a2d/train-*.tfrecord"', repr(prepared_a2d["train"]))
             .replace("batch_size=8", "batch_size=2").replace("epochs=2)", "epochs=1, steps_per_epoch=1, verbose=0)"))
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/model.md (Fine-tuning)", "exec"), {})
    vectors = seen[0].reshape(-1, seen[0].shape[-1])
    vectors = vectors[np.abs(vectors).sum(axis=1) > 0]  # the padding's rows are zeros
    distance = np.abs(vectors[:, None, :] - rows[None, :, :]).max(axis=2).min(axis=1)  # to the nearest run row
    assert len(vectors) and distance.max() < 1e-6, distance.max()
    assert os.path.exists(tmp_path / "finetuned.keras")


def test_docs_extending_recipe_builds_saves_and_loads_a_model_of_ones_own(tmp_path, monkeypatch):
    """docs/model.md#extending as written: a text encoder of one's own (`stages=`) in a subclass with its own
    `call`; the loaded model is the same class and computes the same logits."""
    import keras
    import numpy as np
    from support import random_inputs

    text = (REPO / "docs" / "model.md").read_text()
    section = text[text.index("## Extending"):text.index("## Weights")]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "docs/model.md (Extending)", "exec"), namespace)
    model, loaded = namespace["model"], namespace["loaded"]
    assert type(loaded).__name__ == "RefinedACGA" and loaded.stage("text_encoder").name == "gru_text"
    inputs = random_inputs(namespace["config"], batch=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs)["logits"]),
                                  keras.ops.convert_to_numpy(model(inputs)["logits"]))
    for name in ("my_project>RefinedACGA", "my_project>GRUTextEncoder"):  # the next test's classes are its own
        keras.saving.get_custom_objects().pop(name, None)


def test_docs_recipe_for_looking_at_stored_masks_draws_them_on_their_frames(prepared_a2d, tmp_path, monkeypatch,
                                                                             capsys):
    """docs/data.md#schema's "Looking at what was stored" as written (a data engineer found no way to check a
    conversion without a model): over the shards in `shards/`, one picture a sentence, its actor tinted."""
    import numpy as np
    from PIL import Image

    text = (REPO / "docs" / "data.md").read_text()
    section = text[text.index("**Looking at what was stored.**"):text.index("## Videos")]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    os.symlink(prepared_a2d["data"], tmp_path / "shards")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/data.md (Looking at what was stored)", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines and len(lines) == len(list(tmp_path.glob("*.png")))
    for line in lines:  # "<video>_<frame>_<k>.png: '<sentence>', <n> pixels"
        name, pixels = line.split(":")[0], int(line.rsplit(", ", 1)[1].split()[0])
        assert pixels > 0, line
        picture = np.asarray(Image.open(tmp_path / name)).astype(int)
        tinted = picture[..., 0] - np.maximum(picture[..., 1], picture[..., 2])
        assert (tinted > 0).sum() >= pixels * 0.9, line  # the actor's pixels lean red


def _anchors(page) -> set[str]:
    """The anchors GitHub gives a Markdown page's headings: lower case, punctuation but hyphens dropped, spaces as
    hyphens, a repeated heading's with -1, -2, ... (headings inside code blocks are not headings)."""
    found, seen, code = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            code = not code
        heading = None if code else re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1).strip()).lower()
            slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_every_link_and_cited_section_of_the_docs_exists():
    """Links between the Markdown pages (file and heading), and the `docs/<page>.md#<section>` that docstrings and
    messages cite: a demo's printed note named a README section that did not exist (a screen-reader user's)."""
    pages = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "saved_models" / "README.md",
             REPO / "benchmarks" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            if re.match(r"^[a-z]+:", target):  # a web address
                continue
            dest = (page.parent / path) if path else page
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
                broken.append(f"{page.relative_to(REPO)}: {target}")
    sources = [*(REPO / "acga_tf").rglob("*.py"), *(REPO / "benchmarks").glob("*.py"),
               *(REPO / "pipelines").glob("*.py")]
    for source in sources:
        for name, anchor in re.findall(r"docs/(\w+)\.md#([\w-]*\w)(?![\w-])", source.read_text(encoding="utf-8")):
            dest = REPO / "docs" / f"{name}.md"
            if not dest.exists() or anchor not in _anchors(dest):
                broken.append(f"{source.relative_to(REPO)}: docs/{name}.md#{anchor}")
    assert not broken, broken


def test_every_option_of_every_command_is_documented():
    """A new option went into `acga predict` with nothing in the README or docs/ about it: every long option of every
    subcommand (`--help` aside) is named in README.md or a docs/ page."""
    import argparse

    from acga_tf import cli

    text = "".join(path.read_text() for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])
    subcommands = next(a for a in cli._build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = sorted({(name, flag) for name, parser in subcommands.choices.items() for action in parser._actions
                      for flag in action.option_strings
                      if flag.startswith("--") and flag != "--help" and not re.search(rf"{flag}(?![\w-])", text)})
    assert missing == [], f"options named nowhere in README.md or docs/: {missing}"


def test_docs_cut_out_recipe_writes_the_frames_with_their_masks_as_alpha(run_dir, tmp_path, monkeypatch):
    """docs/serving.md#mattes-and-cut-outs as written: an RGBA PNG a frame, the frame's pixels with its
    smooth-edged mask as the alpha, numbered as `--frames-dir` numbers the mattes."""
    import numpy as np
    from PIL import Image
    from runs import moving_frames, write_video

    from acga_tf.apps.predict import predict

    video = write_video(tmp_path / "clip.mkv", moving_frames(5, 48, 64, seed=2), "ffv1", "bgr0")
    text = (REPO / "docs" / "serving.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text[text.index("### Mattes and cut-outs"):], re.S)[0]
    block = (block.replace('"runs/a2d"', repr(run_dir)).replace('"clip.mp4"', repr(video))
             .replace('"the dog running on the left"', '"the red circle jumping on the left"'))
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/serving.md (Mattes and cut-outs)", "exec"), {})
    names = sorted(os.listdir(tmp_path / "cutout"))
    assert names == [f"{i:05d}.png" for i in range(1, 6)]
    cutout = np.stack([np.asarray(Image.open(tmp_path / "cutout" / name)) for name in names])
    expected = predict(run_dir, video, "the red circle jumping on the left", smooth_edges=True).masks
    assert cutout.shape == (5, 48, 64, 4)
    np.testing.assert_array_equal(cutout[..., 3], expected * 255)
    np.testing.assert_array_equal(cutout[..., :3], moving_frames(5, 48, 64, seed=2))  # FFV1: the frames as written


def test_docs_pre_annotation_recipe_puts_the_json_masks_back_on_their_frames(run_dir, tmp_path, monkeypatch):
    """docs/data.md#your-own-data as written: a labelling team's masks JSON made into PNGs and a table that
    `acga prepare custom` reads, each mask on the frame it was predicted for (the JSON counts frames from 0, the
    table from 1: taken as it is, every mask landed one frame late)."""
    import json

    import numpy as np
    from PIL import Image
    from runs import QUERY, moving_frames, write_video

    from acga_tf.cli import main
    from acga_tf.data.custom import read_custom
    from acga_tf.data.video import load_samples
    from acga_tf.ops import rle

    frames = moving_frames(30, 48, 64, seed=7)
    text = (REPO / "docs" / "data.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text[text.index("**Pre-annotations from a model.**"):], re.S)[0]
    # a video file, and a folder of frames named from 0 (a reviewer's DAVIS-style folder: numbers refused there)
    for where in ("file", "folder"):
        folder = tmp_path / where
        folder.mkdir()
        if where == "file":
            video = write_video(folder / "clip.mkv", frames, "ffv1", "bgr0")
        else:
            video = folder / "clip"
            video.mkdir()
            for i, frame in enumerate(frames):
                Image.fromarray(frame).save(video / f"{i:05d}.png")
        assert main(["predict", "--model", run_dir, "--video", str(video), "--query", QUERY, "--output-json",
                     str(folder / "masks.json"), "--no-progress"]) == 0
        monkeypatch.chdir(folder)
        exec(compile(block, "docs/data.md (Pre-annotations from a model)", "exec"), {})
        document = json.loads((folder / "masks.json").read_text())
        annotated = read_custom(str(folder))
        assert [f.frame_number for f in annotated] == [1, 13, 25]
        for frame, sample in load_samples(annotated, window=4):
            assert not isinstance(sample, Exception), sample
            np.testing.assert_array_equal(sample.frames[sample.center], frames[frame.frame_number - 1])
            np.testing.assert_array_equal(sample.masks[0], rle.decode(document["frames"][frame.frame_number - 1]
                                                                      ["masks"][0]["rle"]))


def test_the_reliability_counts_are_the_tables():
    """docs/reliability.md and the README say how many cases in how many rows its table holds: said "469 cases in 122
    rows" where the table held 484 in 124 (rows added, the sentence left). The count is each row's cases cell."""
    with open(os.path.join(REPO, "docs", "reliability.md"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = lines.index("| --- | ---: | --- |") + 1
    rows = [line for line in lines[start:] if line.startswith("| ")]
    cases = sum(int(re.match(r"(\d+)", line[2:].split(" | ")[1]).group(1)) for line in rows)
    said = f"{cases} cases in {len(rows)} rows"
    for path in ("README.md", os.path.join("docs", "reliability.md")):
        with open(os.path.join(REPO, path), encoding="utf-8") as f:
            text = " ".join(f.read().split())
        assert said in text, (path, said)
