"""`acga train` under TF_CONFIG as an operator runs it (acga_tf/training/cluster.py, docs/training.md#distribution).
A cluster operator's findings: a worker started alone printed nothing for an hour and neither Ctrl-C nor SIGTERM
stopped it; workers given different batch sizes trained together without a word; TF_CONFIG's mistakes were
TensorFlow's or JSON's messages, naming neither TF_CONFIG nor the field."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from support import free_ports

from acga_tf.training.cluster import read_tf_config, worker_role

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO = {"worker": ["localhost:23456", "localhost:23457"]}


@pytest.mark.parametrize("value, message", [
    ("", "TF_CONFIG is set but empty: unset it to train in one process"),
    ('{"cluster": {"worker": ["a:1" "b:2"]}}', "TF_CONFIG: not valid JSON (Expecting ',' delimiter at character "),
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG: no "cluster"'),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster job 'ps': acga train's MultiWorkerMirroredStrategy has chief and worker tasks only"),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker: expected a list of \"host:port\" addresses, got ['a']"),
    (json.dumps({"cluster": TWO}), 'TF_CONFIG: no "task" {"type": ..., "index": ...}'),
    # a second operator's: worker 0 waited for itself at its own address, for the whole wait
    (json.dumps({"cluster": {"worker": ["h:1", "h:1"]}, "task": {"type": "worker", "index": 0}}),
     "TF_CONFIG: the address h:1 is given to two tasks (worker 0 and worker 1): each task of the cluster has its own "
     "host:port"),
    # a cluster reviewer's: a port past 65535 was a traceback (its own) or waited for (another's), "2320²" int()'s
    # error; one port under two names of this machine waited for itself
    (json.dumps({"cluster": {"worker": ["localhost:99999"]}, "task": {"type": "worker", "index": 0}}),
     "TF_CONFIG: cluster.worker: the address localhost:99999: a port is 1 to 65535"),
    (json.dumps({"cluster": {"worker": ["localhost:2320\u00b2"]}, "task": {"type": "worker", "index": 0}}),
     "TF_CONFIG: cluster.worker: expected a list of \"host:port\" addresses"),
    (json.dumps({"cluster": {"worker": ["localhost:23201", "127.0.0.1:23201"]},
                 "task": {"type": "worker", "index": 0}}),
     "TF_CONFIG: the address 127.0.0.1:23201 is given to two tasks (worker 0 and worker 1)"),
    (json.dumps({"cluster": TWO, "task": {"type": "Worker", "index": 0}}),
     "TF_CONFIG: task.type 'Worker' is not a job of the cluster (worker; names are lower case)"),
    (json.dumps({"cluster": TWO, "task": {"type": "worker", "index": 2}}),
     "TF_CONFIG: task.index 2: the cluster's 'worker' job has 2 task(s), numbered from 0"),
])
def test_tf_config_mistakes_are_one_line_naming_the_field(value, message, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError) as error:
        read_tf_config()
    assert str(error.value).startswith(message), str(error.value)


def test_the_chief_is_the_chief_task_or_worker_0(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert read_tf_config() is None and worker_role() == ("chief", 0, True)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": TWO, "task": {"type": "worker", "index": "1"}}))
    assert worker_role() == ("worker", 1, False)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**TWO, "chief": ["c:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert worker_role() == ("worker", 0, False)


def _train(prepared_a2d, out, tf_config, batch_size=2, steps=2, extra=(), **env):
    command = [sys.executable, "-m", "acga_tf", "train", "--preset", "tiny", "--data", prepared_a2d["train"],
               "--output", str(out), "--epochs", "1", "--steps-per-epoch", str(steps), "--batch-size", str(batch_size),
               "--backup-every", "2", *extra]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": REPO,
                   "TF_CONFIG": json.dumps(tf_config), **env}
    return subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("case", ["alone", "ctrl_c", "port_taken"])
def test_a_worker_whose_cluster_does_not_start_says_so_and_stops(case, prepared_a2d, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    out = tmp_path / "run"
    taken = socket.create_server(("127.0.0.1", ports[0])) if case == "port_taken" else None
    began = time.monotonic()
    proc = _train(prepared_a2d, out, {"cluster": cluster, "task": {"type": "worker", "index": 0}},
                  ACGA_CLUSTER_WAIT_S="4" if case == "alone" else "120")
    try:
        if case == "ctrl_c":  # once the worker waits: it listens on its port (a fixed sleep of 8 s came before
            deadline = time.monotonic() + 90  # TensorFlow's import ended on a loaded host)
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", ports[0]), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        if taken is not None:
            taken.close()
    last = err.strip().splitlines()[-1]
    if case == "alone":
        assert proc.returncode == 2 and last == (
            f"acga train: error: TF_CONFIG: worker 0 (127.0.0.1:{ports[0]}) waited 4 s for the other tasks of its "
            f"cluster; not started: worker 1 at 127.0.0.1:{ports[1]}; start the same command on each, or check the "
            "addresses (ACGA_CLUSTER_WAIT_S sets the wait)"), err[-2000:]
    elif case == "ctrl_c":  # before: no effect (TensorFlow's wait, in C++)
        assert proc.returncode == -signal.SIGINT and last == "acga train: interrupted", err[-2000:]
        assert time.monotonic() - began < 120
    else:  # before: TensorFlow's three E0000 lines, then "Could not start gRPC server"
        assert proc.returncode == 2 and last.startswith(
            f"acga train: error: TF_CONFIG: worker 0 cannot listen at 127.0.0.1:{ports[0]} (Address already in use: "
            "its port taken by another process?)"), err[-2000:]
    assert not out.exists()  # nothing written


def test_a_one_worker_cluster_trains_and_its_overwrite_leaves_the_workers_folders(prepared_a2d, tmp_path):
    """A cluster reviewer's: a TF_CONFIG of one worker (a scheduler's `replicas: 1`) failed after its first step with
    a traceback ("only 0-dimensional arrays can be converted to Python scalars": its logs kept the axis a cluster's
    reduction takes off); and the chief's --overwrite removed OUTPUT/workers/ as the other workers wrote there (with a
    shared output, every try failed): each worker starts its own folder over."""
    out = tmp_path / "run"
    (out / "workers" / "worker-1").mkdir(parents=True)
    (out / "workers" / "worker-1" / "provenance.json").write_text("{}")
    (out / "logs").mkdir()
    proc = _train(prepared_a2d, out, {"cluster": {"worker": [f"127.0.0.1:{free_ports(1)[0]}"]},
                                      "task": {"type": "worker", "index": 0}}, extra=("--overwrite",))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert (out / "model.keras").is_file() and (out / "workers" / "worker-1" / "provenance.json").is_file()


def test_workers_given_different_settings_are_refused_before_anything_is_written(prepared_a2d, tmp_path):
    """An operator's: worker 1 given --batch-size 1 and worker 0 --batch-size 2 trained together, each with its own
    global batch, and ended with exit status 0. A cluster reviewer's: a worker given other shards (here, a copy whose
    vocabulary has one word more) trained beside the others, reading its sentences with other words: what the data
    holds is compared too (its paths may differ)."""
    import shutil

    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    out = tmp_path / "run"
    other = tmp_path / "other_data"
    shutil.copytree(prepared_a2d["data"], other)
    with open(other / "vocab.txt", "a", encoding="utf-8") as f:
        f.write("zeppelin\t1\n")
    data = [prepared_a2d, {"train": str(other / "train-*.tfrecord")}]
    procs = [_train(data[i], out, {"cluster": cluster, "task": {"type": "worker", "index": i}},
                    batch_size=2 - i, ACGA_CLUSTER_WAIT_S="120") for i in range(2)]
    try:
        errors = [p.communicate(timeout=180)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for i, (proc, err) in enumerate(zip(procs, errors)):
        assert proc.returncode == 2 and re.fullmatch(
            r"acga train: error: TF_CONFIG: the cluster's workers were given different settings: shards.vocabulary "
            rf"\(here '{14 + i} words, digest \w+'\), training.batch_size \(here {2 - i}\) on worker {i}; start the "
            r"same command, with the same options and config, on every worker; give every worker a copy of the same "
            r"shards \(--data, --val-data: one conversion's files, vocab.txt with them\)",
            err.strip().splitlines()[-1]), err[-2000:]
    assert not out.exists()


def test_what_the_workers_compare_of_their_data(prepared_a2d, tmp_path):
    """The data's part of the settings the workers compare (its paths may differ): the samples of each split and the
    vocabulary's words; shards that cannot be read are said so, not left out (every worker compares the same
    fields)."""
    import shutil

    from acga_tf.data.manifest import count_samples
    from acga_tf.training.train import _data_settings

    mine = _data_settings(prepared_a2d["train"], prepared_a2d["test"])
    assert mine["shards.training_samples"] == count_samples(prepared_a2d["train"]) > 0
    assert mine["shards.held_out_samples"] == count_samples(prepared_a2d["test"]) > 0
    assert re.fullmatch(r"14 words, digest \w{16}", mine["shards.vocabulary"]), mine
    copy = tmp_path / "copy"
    shutil.copytree(prepared_a2d["data"], copy)
    assert _data_settings(str(copy / "train-*.tfrecord"), None) == {**mine, "shards.held_out_samples": None}
    with open(copy / "vocab.txt", "a", encoding="utf-8") as f:
        f.write("zeppelin\n")
    assert _data_settings(str(copy / "train-*.tfrecord"), None)["shards.vocabulary"] == (
        f"unreadable: {copy / 'vocab.txt'}:15: expected 'word<TAB>count', got 'zeppelin'")
    assert _data_settings(str(tmp_path / "none-*.tfrecord"), None)["shards.vocabulary"] == "no shards"
    # a manifest whose shards record no sample count: None, not a KeyError's traceback (a diff reviewer's); a glob over
    # two folders counts each shard by the manifest beside it
    other = tmp_path / "other"
    shutil.copytree(prepared_a2d["data"], other)
    manifest = json.loads((other / "manifest.json").read_text())
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            shard["samples"] = 1
    (other / "manifest.json").write_text(json.dumps(manifest))
    both = str(tmp_path / "[co]*" / "train-*.tfrecord")
    assert count_samples(both) == mine["shards.training_samples"] + len(list(other.glob("train-*.tfrecord")))
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            del shard["samples"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert _data_settings(str(other / "train-*.tfrecord"), None)["shards.training_samples"] is None


# About 60 s: two workers train until the first backup, then one is killed.
@pytest.mark.slow
def test_a_worker_killed_mid_run_is_named_and_the_other_says_how_to_resume(prepared_a2d, tmp_path):
    """An operator's: worker 0's last line was a fragment of TensorFlow's gRPC error ("Additional GRPC error
    information from remote target /job:worker/replica:0/task:1 while calling /tensorflow.WorkerService/RecvBuf:")."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    out = tmp_path / "run"
    procs = [_train(prepared_a2d, out, {"cluster": cluster, "task": {"type": "worker", "index": i}}, steps=200,
                    ACGA_CLUSTER_WAIT_S="120") for i in range(2)]
    try:
        deadline = time.monotonic() + 180
        while not (out / "backup" / "training_metadata.json").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        procs[1].kill()
        _, err = procs[0].communicate(timeout=120)
    finally:
        for p in procs:
            p.kill()
    assert procs[0].returncode == 2, err[-2000:]
    assert err.strip().splitlines()[-1].startswith(
        "acga train: error: TF_CONFIG: a task of the cluster stopped or cannot be reached (TensorFlow's "), err[-2000:]
    assert "the same command on every worker resumes the run from its backup (optimizer step " in err


@pytest.mark.slow  # (20 s in the suite): the default suite names a worker killed mid-run, one whose cluster waits
def test_a_worker_that_refuses_to_start_is_named_by_the_others_in_one_line(prepared_a2d, tmp_path):
    """A second operator's: worker 1 refused its folder in one line, and worker 0 ended with TensorFlow's "Collective
    ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy ...", after about
    nine lines of its own: a task lost before training was not said as one lost during it."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    out = tmp_path / "run"
    (out / "workers" / "worker-1").mkdir(parents=True)
    (out / "workers" / "worker-1" / "notes.txt").write_text("not a run")  # worker 1 refuses its folder
    procs = [_train(prepared_a2d, out, {"cluster": cluster, "task": {"type": "worker", "index": i}},
                    ACGA_CLUSTER_WAIT_S="120") for i in range(2)]
    try:
        errors = [p.communicate(timeout=180)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert procs[1].returncode == 2 and "holds files that are not a training run's (notes.txt)" in errors[1]
    assert procs[0].returncode == 2 and errors[0].strip().splitlines()[-1].startswith(
        "acga train: error: TF_CONFIG: a task of the cluster stopped or cannot be reached (TensorFlow's "), errors[0]
    assert errors[0].strip().endswith("no backup was saved; the same command on every worker starts over"), errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("unsaved", ["worker-1", "chief"])
def test_a_worker_stopped_during_its_final_save_is_finished_by_the_same_command(unsaved, prepared_a2d, tmp_path):
    """The last cluster operator's: a worker killed during its final save (its backup at the last step, its
    `model.keras` not written) could not be finished by the same command: the finished worker refused ("holds a
    finished run") and the other waited for it. Now every worker saves its run again, with no step left to train."""
    import numpy as np

    from acga_tf.training.artifacts import load_model_file

    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    out = tmp_path / "run"
    models = {"chief": out / "model.keras", "worker-1": out / "workers" / "worker-1" / "model.keras"}

    def both(extra=(), status=0):
        procs = [_train(prepared_a2d, out, {"cluster": cluster, "task": {"type": "worker", "index": i}},
                        ACGA_CLUSTER_WAIT_S="120", extra=extra) for i in range(2)]
        try:
            results = [p.communicate(timeout=240) for p in procs]
        finally:
            for p in procs:
                p.kill()
        for p, (_, err) in zip(procs, results):
            assert p.returncode == status, err[-2000:]
        return [err for _, err in results]

    both()
    before = load_model_file(str(models[unsaved])).get_weights()
    models[unsaved].unlink()  # as a kill during that worker's final save leaves it
    errors = both()
    assert models[unsaved].exists()
    for a, b in zip(before, load_model_file(str(models[unsaved])).get_weights()):
        np.testing.assert_array_equal(a, b)  # the weights of the last step, saved again: nothing more trained
    finished = errors[1 if unsaved == "chief" else 0]
    assert "this worker's run is finished, another's stopped during its final save" in finished, finished[-2000:]
    if unsaved == "chief":
        return
    # --resume with the same epochs finishes it too (a third operator's: the chief refused, "pass a larger --epochs",
    # while worker 1 saved); a backup at another step is refused on both workers alike (the stopped one said only
    # that a task was lost, and that the same command would resume)
    models[unsaved].unlink()
    both(["--resume"])
    assert models[unsaved].exists()
    stale = out / "workers" / "worker-1" / "backup" / "training_metadata.json"
    metadata = json.loads(stale.read_text())
    stale.write_text(json.dumps({**metadata, "step": metadata["step"] - 1}))
    models[unsaved].unlink()
    refused = both([], status=2)
    for err in refused:
        assert "the cluster's workers hold runs at different steps (finished at 2, a backup at 1): they cannot train " \
               "together; pass --overwrite on every worker to start over" in err.strip().splitlines()[-1], err[-2000:]
