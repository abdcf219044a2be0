"""acga_tf/ops/files.py: `check_writable`, which the commands call on their outputs before the work (the commands'
own cases: tests/reliability/test_reliability.py, tests/test_predict.py)."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from acga_tf.ops import files
from acga_tf.ops.files import check_writable


def test_a_new_path_passes_and_nothing_is_created(tmp_path):
    before = sorted(os.listdir(tmp_path))
    check_writable(str(tmp_path / "new" / "deeper" / "results.csv"))
    check_writable(str(tmp_path / "frames"), folder=True)
    check_writable(str(tmp_path / "results.csv"))
    assert sorted(os.listdir(tmp_path)) == before  # neither the folders nor the probe file are left


@pytest.mark.parametrize("case, message", [
    ("empty", "the output path is empty (--output)"),
    ("folder_as_file", "is a folder; name the file to write (--output)"),
    ("file_as_folder", "is a file; name the folder to write (--output)"),
    ("under_a_file", "is a file, not a folder (--output)"),
    ("proc", "cannot be written: no file can be made in /proc (No such file or directory) (--output)"),
    # an evaluation reviewer's: a new folder's name was accepted, the evaluation run, then its write failed
    ("folder_name", "ends in '/', a folder's name: name the file to write (--output)"),
])
def test_what_cannot_be_written_is_named(case, message, tmp_path):
    (tmp_path / "file").write_text("x")
    path, folder = {"empty": ("", False), "folder_as_file": (str(tmp_path), False),
                    "file_as_folder": (str(tmp_path / "file"), True),
                    "under_a_file": (str(tmp_path / "file" / "out.csv"), False),
                    "proc": ("/proc/acga-results.csv", False), "folder_name": (str(tmp_path / "scores") + "/", False)
                    }[case]
    if case == "proc" and not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    with pytest.raises(ValueError) as error:
        check_writable(path, folder=folder, flag="--output")
    assert str(error.value).startswith(path) and message in str(error.value)


def test_a_name_whose_temporary_name_is_too_long_is_refused_before_the_work(tmp_path, run_dir, capsys):
    """An i18n tester's: a legal 253-byte overlay name failed at the first frame with "[Errno 36] File name too
    long: '...gif.tmp'", naming a file the user never asked for. Now one line, before the model is loaded."""
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "\u65e5" * ((longest - 4) // 3) + ".gif"  # 3 bytes a character: at most `longest` bytes with ".gif"
    assert longest - 4 < len(name.encode()) <= longest
    path = str(tmp_path / name)
    with pytest.raises(ValueError, match=f"its name is {len(name.encode())} bytes, and it is written under a "
                                         r"temporary name 4 bytes longer \('.tmp'\), over the"):
        check_writable(path, flag="--output")
    check_writable(str(tmp_path / ("\u65e5" * ((longest - 8) // 3) + ".gif")))  # with room for ".tmp": fine
    for folder in (False, True):  # a name over the limit itself (an operations tester's): was Errno 36, naming .tmp
        with pytest.raises(ValueError, match=rf"its name is {longest + 1:,} bytes, over the {longest} this file system "
                                             r"takes: shorten it \(--frames-dir\)"):
            check_writable(str(tmp_path / ("x" * (longest - 3) + ".png")), folder=folder, flag="--frames-dir")
        with pytest.raises(ValueError, match=rf"its folder x+\.\.\. has a name of {longest + 1:,} bytes, over the "
                                             rf"{longest} this file system takes: shorten it \(--frames-dir\)"):
            check_writable(str(tmp_path / ("x" * (longest + 1)) / "masks"), folder=folder, flag="--frames-dir")
    from acga_tf.cli import main

    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "a.mp4"), "--query", "the red circle",
                 "--output", path]) == 2
    assert "over the" in capsys.readouterr().err


def test_a_write_protected_file_is_not_replaced(tmp_path, run_dir, capsys):
    """A locked-down environment's tester: `acga predict --output`, `visualize --output` and `evaluate --output-csv`
    replaced a `chmod 444` file of another user without a word (a new version is renamed onto the old one, which the
    folder's permissions allow). Now refused in one line before the work, the file as it was."""
    kept = tmp_path / "keep.mp4"
    kept.write_bytes(b"the user's file")
    kept.chmod(0o444)
    with pytest.raises(ValueError, match=r"keep.mp4: exists and is write-protected \(mode -r--r--r--\): not replaced; "
                                         r"remove it, make it writable or choose another name \(--output\)"):
        check_writable(str(kept), flag="--output")
    from acga_tf.cli import main

    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "a.mp4"), "--query", "the red circle",
                 "--output", str(kept)]) == 2
    assert "write-protected" in capsys.readouterr().err
    assert kept.read_bytes() == b"the user's file"
    kept.chmod(0o644)
    check_writable(str(kept))  # writable again: replaced as before
    # an upgrading tester's: a `chmod 444` mask PNG of an earlier run in --frames-dir was replaced with the others
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "00007.png").write_bytes(b"an earlier mask")
    (frames / "00007.png").chmod(0o444)
    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "a.mp4"), "--query", "the red circle",
                 "--frames-dir", str(frames)]) == 2
    assert (f"{frames / '00007.png'}: exists and is write-protected: not replaced; make the earlier masks writable, "
            "remove them or choose another --frames-dir") in capsys.readouterr().err
    assert (frames / "00007.png").read_bytes() == b"an earlier mask"


UNREADABLE_CHECK = """
import sys
from acga_tf.apps.predictors import load_predictor
from acga_tf.data.datasets import check_shards
from acga_tf.data.vocab import Vocabulary, load_embedding_matrix
from acga_tf.models.config import ACGAConfig
from acga_tf.serving.client import LocalServer
from acga_tf.training.artifacts import load_model_file
from acga_tf.training.train import claim_run_dir
for call, path in ((load_model_file, sys.argv[1]), (load_embedding_matrix, sys.argv[2]), (LocalServer, sys.argv[3]),
                   (Vocabulary.load, sys.argv[4]), (load_predictor, sys.argv[5]),
                   (lambda p: check_shards(p, ACGAConfig.preset("tiny")), sys.argv[6]), (claim_run_dir, sys.argv[7])):
    try:
        call(path)
    except ValueError as e:
        print(e)
"""


def test_a_file_this_user_may_not_read_is_named_as_such(run_dir, exported_run, tmp_path):
    """A locked-down environment's tester: `chmod 000 run/model.keras` was "not a .keras file: 4523503 bytes that are
    not a zip archive (truncated, or not written by Keras)", and a SavedModel's unreadable `variables.index` said to
    export it again. Run as a user without root's rights (`setpriv` drops them where the tests run as root)."""
    model, embeddings, vocab = tmp_path / "model.keras", tmp_path / "embeddings.npy", tmp_path / "vocab.txt"
    shutil.copy(os.path.join(run_dir, "model.keras"), model)
    shutil.copy(os.path.join(run_dir, "embeddings.npy"), embeddings)
    shutil.copy(os.path.join(run_dir, "vocab.txt"), vocab)
    saved, shut = tmp_path / "saved", tmp_path / "shut" / "acga"
    shutil.copytree(exported_run, saved)
    shutil.copytree(exported_run, shut / "1")
    shard = tmp_path / "shards" / "test-00000-of-00001.tfrecord"
    shard.parent.mkdir()
    shard.write_bytes(b"")
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    for path in (model, embeddings, vocab, saved / "variables" / "variables.index", shut / "1" / "variables", shard):
        path.chmod(0)
    (resumed / "checkpoints").chmod(0o555)
    command = [sys.executable, "-c", UNREADABLE_CHECK, str(model), str(embeddings), str(saved), str(vocab), str(shut),
               str(shard), str(resumed)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: every file is readable")
        command = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", *command]
    lines = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}).stdout.splitlines()
    assert lines[:2] == [f"{model}: cannot be read (Permission denied): check its owner and permissions",
                         f"{embeddings}: cannot be read (Permission denied): check its owner and permissions"], lines
    assert lines[2].startswith(f"{saved}: cannot load the SavedModel (") and "Permission denied" in lines[2], lines
    assert lines[2].endswith("; check its files' owner and permissions"), lines
    # a second tester's: an unreadable vocab.txt was "[Errno 13] ...", a SavedModel's unreadable variables/ "export it
    # again" or "model.keras: missing", a shard TensorFlow's PERMISSION_DENIED mid-run, a read-only checkpoints/ of a
    # resumed run an error at the epoch's end naming a temporary file
    assert lines[3:6] == [f"{vocab}: cannot be read (Permission denied): check its owner and permissions",
                          f"{shut / '1' / 'variables'}: cannot be read (Permission denied): check its owner and "
                          "permissions",
                          f"{shard}: cannot be read (Permission denied): check its owner and permissions"], lines
    checkpoints = resumed / "checkpoints"
    assert lines[6].startswith(f"{checkpoints}: cannot be written: no file can be made in {checkpoints} (Permission "
                               "denied) (output_dir)"), lines  # claim_run_dir called from Python: fit's argument


@pytest.mark.parametrize("command", ["train", "demo", "prepare"])
def test_an_output_folder_that_cannot_be_written_is_named_with_its_flag(command, prepared_a2d, a2d_root, capsys):
    """A locked-down environment's tester, in a read-only folder: "acga train: error: runs; Permission denied",
    "[Errno 13] Permission denied: 'demo_output'", "[Errno 13] Permission denied: 'p'"; `acga predict` named the
    folder, the reason and the flag. Now each command does, before any work."""
    from acga_tf.cli import main

    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    output = "/proc/acga-output"
    argv = {"train": ["train", "--preset", "tiny", "--data", prepared_a2d["train"], "--epochs", "1",
                      "--steps-per-epoch", "1", "--mixed-precision", "float32", "--output", output],
            "demo": ["demo", "--videos", "3", "--output", output],
            "prepare": ["prepare", "a2d", "--root", str(a2d_root), "--output", output]}[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    name = {"prepare": "prepare a2d"}.get(command, command)  # as argparse names the subcommand
    assert err.startswith(f"acga {name}: error: {output}: cannot be written: no file can be made in /proc ("
                          ) and err.endswith(") (--output)\n") and err.count("\n") == 1, err


def test_a_write_protected_results_table_is_not_replaced(tmp_path, run_dir, capsys):
    """A second locked-down tester's: `acga predict --list` replaced a `chmod 444` `results.csv` (a row of another
    video in it gone), exit 0."""
    from acga_tf.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("line,video\n2,other.mp4\n")
    (out / "results.csv").chmod(0o444)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"video,query\n{tmp_path / 'a.mp4'},the red circle\n")
    assert main(["predict", "--model", run_dir, "--list", str(pairs), "--output-dir", str(out)]) == 2
    assert f"{out / 'results.csv'}: exists and is write-protected" in capsys.readouterr().err
    assert (out / "results.csv").read_text() == "line,video\n2,other.mp4\n"


def test_a_link_where_a_temporary_file_goes_is_removed_not_followed(tmp_path):
    """A security reviewer's: a leftover `NAME.tmp` link to a folder had the folder emptied (TensorFlow's rmtree
    follows links); a dangling `NAME.tmp` link had its target created by the lock's open."""
    kept = tmp_path / "kept"
    (kept / "sub").mkdir(parents=True)
    (kept / "keep.txt").write_text("a")
    os.symlink(kept, tmp_path / "table.csv.tmp")
    files.write_text(str(tmp_path / "table.csv"), "x,y\n")
    assert (tmp_path / "table.csv").read_text() == "x,y\n" and not os.path.lexists(tmp_path / "table.csv.tmp")
    assert sorted(os.listdir(kept)) == ["keep.txt", "sub"]
    target = tmp_path / "created-through-the-link"
    os.symlink(target, tmp_path / "out.mp4.tmp")
    lock = files.WriteLock(str(tmp_path / "out.mp4.tmp"))
    lock.release()
    assert not target.exists() and not (tmp_path / "out.mp4.tmp").is_symlink()


def test_an_output_link_is_written_through_and_kept(tmp_path):
    """A Unix user's: `--output-json latest.json` where `latest.json -> results/run7.json` replaced the link with a
    file, run7.json unchanged; a dangling link the same. The file the link names is written (as `>` and `cp` do)."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "run7.json").write_text('{"old": 1}')
    os.symlink("results/run7.json", tmp_path / "latest.json")
    os.symlink("results/run8.json", tmp_path / "next.json")  # dangling
    for name in ("latest.json", "next.json"):
        check_writable(str(tmp_path / name))
        files.write_json(str(tmp_path / name), {"new": 2})
        assert (tmp_path / name).is_symlink() and json.loads((tmp_path / name).read_text()) == {"new": 2}
    assert sorted(os.listdir(tmp_path / "results")) == ["run7.json", "run8.json"]


def test_a_pipe_or_a_descriptor_given_as_an_output_is_written_into_not_replaced(tmp_path):
    """A Unix user's: `--output-json /dev/stdout` run as root replaced /dev/stdout with a regular file (the JSON never
    reached stdout); a FIFO was replaced by a file, its reader waiting. Both are written into as they are."""
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader waiting: the writer's open does not block
    try:
        check_writable(str(fifo))
        files.write_text(str(fifo), "line\n")
        assert os.read(reader, 100) == b"line\n" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(reader)
    with open(tmp_path / "given.txt", "w") as given:  # a file this process was handed, as a shell's `>` does
        descriptor = f"/dev/fd/{given.fileno()}"
        assert files.output_path(descriptor) == (descriptor, True)
        files.write_text(descriptor, "through the descriptor\n")
    assert (tmp_path / "given.txt").read_text() == "through the descriptor\n"
    assert sorted(os.listdir(tmp_path)) == ["given.txt", "results.fifo"]


def test_a_path_too_long_for_the_system_is_refused_before_the_work(tmp_path):
    """A Unix user's 4,087-byte folder: `--frames-dir "$Q/m"` and `--output "$Q/o.mp4"` loaded the model, then
    failed with "[Errno 36] File name too long" (and left an empty `m/`)."""
    deep = str(tmp_path)
    while len(os.fsencode(deep)) < 4078:
        deep = os.path.join(deep, "d" * min(200, 4077 - len(os.fsencode(deep))))
    os.makedirs(deep)
    for path, folder in ((os.path.join(deep, "results_of_the_last_run.csv"), False), (os.path.join(deep, "m"), True)):
        with pytest.raises(ValueError, match=r"\.\.\.: a path of 4,\d{3} bytes; with the names written (in|beside) "
                                             r"it, over the 4,096 this system takes: choose a shorter one \(--out\)"):
            check_writable(path, folder=folder, flag="--out")
        assert not os.path.lexists(path)
    check_writable(os.path.join(deep, "r.csv"))  # short enough: passes


def test_an_immutable_output_is_named_as_such(tmp_path):
    """A Unix user's `chattr +i` file was refused as "write-protected (mode -rw-r--r--)": a writable mode."""
    path = tmp_path / "results.csv"
    path.write_text("x")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here (it needs root and a file system that has the attribute)")
    try:
        with pytest.raises(ValueError, match=r"exists and is write-protected \(mode -rw-r--r--, marked immutable "):
            check_writable(str(path))
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_links_that_lead_back_to_each_other_are_refused_as_an_output(tmp_path):
    """A Unix user's `loopa.gif -> loopb.gif -> loopa.gif` as --output: replaced by a regular file, status 0; as
    --frames-dir: "[Errno 17] File exists"."""
    os.symlink("b.gif", tmp_path / "a.gif")
    os.symlink("a.gif", tmp_path / "b.gif")
    for folder in (False, True):
        with pytest.raises(ValueError, match=r"a\.gif: Too many levels of symbolic links \(links that lead back to "
                                             r"each other\) \(--output\)"):
            check_writable(str(tmp_path / "a.gif"), folder=folder, flag="--output")
    assert os.path.islink(tmp_path / "a.gif") and os.path.islink(tmp_path / "b.gif")


def test_a_write_onto_a_folder_names_the_file_and_leaves_no_temporary(tmp_path):
    """A QA engineer's run folder with a folder named provenance.json: "r1c/provenance.json.tmp; Is a directory"
    (TensorFlow's rename named the temporary file), and the temporary file left in the run folder."""
    (tmp_path / "provenance.json").mkdir()
    with pytest.raises(IsADirectoryError) as error:
        files.write_json(str(tmp_path / "provenance.json"), {"sessions": []})
    assert str(error.value) == f"[Errno 21] Is a directory: '{tmp_path / 'provenance.json'}'"
    assert os.listdir(tmp_path) == ["provenance.json"]


def test_json_files_keep_their_letters_and_escape_what_utf8_cannot_write(tmp_path):
    """A multilingual tester's manifest and evaluation records wrote "数据/分片" as "\\u6570\\u636e/..." (the batch's
    summary.json did not): letters as they are now; a lone surrogate (a file name's undecodable bytes) as an escape."""
    path = tmp_path / "a.json"
    files.write_json(str(path), {"data": "数据/分片 v1", "emoji": "🟩"})
    assert "数据/分片 v1" in path.read_text(encoding="utf-8") and "🟩" in path.read_text(encoding="utf-8")
    files.write_json(str(path), {"name": "caf\udce9"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"name": "caf\udce9"}


def test_a_replaced_file_keeps_its_mode_and_is_on_the_disk_before_its_name(tmp_path, monkeypatch):
    """An ops reviewer's: a private 0600 file (or a group's 0664) became 0644 once replaced; nothing was `fsync`'d
    before the rename, so a power cut could leave the new name empty, the old file gone (a run's backup, a
    manifest)."""
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd))[1])
    for mode in (0o600, 0o664, 0o640):
        path = tmp_path / f"private-{mode:o}.json"
        path.write_text("{}")
        os.chmod(path, mode)
        files.write_json(str(path), {"new": 1})
        assert stat.S_IMODE(os.stat(path).st_mode) == mode and json.loads(path.read_text()) == {"new": 1}
    assert f"{tmp_path}/private-640.json.tmp" in synced and str(tmp_path) in synced  # the file, then its folder
    synced.clear()  # a video's mask PNGs, by the thousand: not synced (3 times slower), a run goes on from them
    import numpy as np

    from acga_tf.apps.predict import write_mask_png

    write_mask_png(str(tmp_path / "00001.png"), np.ones((4, 4), np.uint8))
    assert synced == []


def test_json_with_a_byte_order_mark_a_pipe_and_a_record_nested_too_deep(tmp_path):
    """An ops reviewer's: JSON that Windows' Notepad saved ("UTF-8 with BOM") was refused ("Unexpected UTF-8 BOM") and
    a run's record read as none; `check_readable` of a FIFO (`--model` given one) hung; a record nested 200,000 deep
    raised RecursionError where a record that cannot be read is None."""
    from acga_tf.models.config import ACGAConfig

    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode())
    assert files.read_json(str(tmp_path / "bom.json")) == {"a": 1} == files.read_record(str(tmp_path / "bom.json"))
    (tmp_path / "config.json").write_bytes(b"\xef\xbb\xbf" + ACGAConfig.preset("tiny").to_json().encode())
    assert ACGAConfig.from_json(str(tmp_path / "config.json")) == ACGAConfig.preset("tiny")
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    assert files.read_record(str(tmp_path / "deep.json")) is None
    os.mkfifo(tmp_path / "model.fifo")
    with pytest.raises(ValueError, match=r"model.fifo: cannot be read \(a pipe, not a file\): give a file$"):
        files.check_readable(str(tmp_path / "model.fifo"))
    with pytest.raises(ValueError, match="deep.json: not JSON this reader can read"):
        files.read_json(str(tmp_path / "deep.json"))
    (tmp_path / "latin.json").write_bytes(b"\xef\xbb\xbf" + b'{"a": "\xff"}')
    with pytest.raises(ValueError, match=r"latin.json: not UTF-8 text \(byte 10\)"):
        files.read_json(str(tmp_path / "latin.json"))


def test_an_overlay_written_from_python_through_a_link_keeps_the_link(tmp_path):
    """An ops reviewer's: `write_overlay(result, frames, "latest.gif")` where latest.gif is a link replaced the link
    with a file, the file it named unchanged (the CLI resolved the link first)."""
    import numpy as np

    from acga_tf.apps.predict import PredictionResult, write_overlay

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "run7.gif").write_bytes(b"old")
    os.symlink("results/run7.gif", tmp_path / "latest.gif")
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    result = PredictionResult(np.ones((2, 16, 16), np.uint8), np.ones((2, 16, 16), np.float32), 24.0, "the square")
    write_overlay(result, frames, str(tmp_path / "latest.gif"))
    assert (tmp_path / "latest.gif").is_symlink() and (tmp_path / "results" / "run7.gif").read_bytes()[:3] == b"GIF"
