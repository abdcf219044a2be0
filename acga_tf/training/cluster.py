"""Training on several machines: `TF_CONFIG`, read and checked, and the `MultiWorkerMirroredStrategy` built from it
without hanging (docs/training.md#distribution).

TensorFlow's strategy waits for every task of the cluster to start, in C++: a worker started alone printed nothing
and waited for an hour, and neither Ctrl-C nor SIGTERM stopped it (TensorFlow's preemption notifier took SIGTERM over).
Here the wait is bounded (`CLUSTER_WAIT_S`, or `ACGA_CLUSTER_WAIT_S` in the environment), says every minute whom it
waits for, and Ctrl-C or SIGTERM stop it as they stop training. The workers then check that they were given the same
settings (`check_same_settings`): two batch sizes trained together, without a word.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

CLUSTER_WAIT_S = 600.0  # seconds a worker waits for the others of its cluster to start
WAIT_ENV = "ACGA_CLUSTER_WAIT_S"
JOBS = ("chief", "worker")  # the tasks MultiWorkerMirroredStrategy trains with
FIRST_NOTE_S, NOTE_EVERY_S = 10.0, 60.0  # when the wait is said, then how often
CLUSTER_LOSSES = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                  tf.errors.InternalError, tf.errors.UnknownError)  # what a worker sees of a task that stopped


def read_tf_config() -> dict[str, Any] | None:
    """`TF_CONFIG`'s `{"cluster": {job: ["host:port", ...]}, "task": {"type": job, "index": i}}`, checked; None where
    `TF_CONFIG` is not set.

    Raises:
        ValueError: set but empty, not JSON, or a field missing or wrong (one line naming TF_CONFIG and the field).
    """
    raw = os.environ.get("TF_CONFIG")
    if raw is None:
        return None
    where = "TF_CONFIG"
    if not raw.strip():
        raise ValueError(f"{where} is set but empty: unset it to train in one process, or give the cluster as JSON, "
                         '{"cluster": {"worker": ["host1:port", ...]}, "task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e.msg} at character {e.pos}): {raw!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: expected a JSON object with \"cluster\" and \"task\", got {raw!r}")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"{where}: no \"cluster\" (each job's addresses, "
                         f"{{\"worker\": [\"host1:port\", \"host2:port\"]}}): {raw!r}")
    for job, addresses in cluster.items():
        if job not in JOBS:
            raise ValueError(f"{where}: cluster job {job!r}: acga train's MultiWorkerMirroredStrategy has "
                             f"{' and '.join(JOBS)} tasks only")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and _port(a) is not None for a in addresses)):
            raise ValueError(f"{where}: cluster.{job}: expected a list of \"host:port\" addresses, got {addresses!r}")
        if (wrong := next((a for a in addresses if not 0 < _port(a) < 65536), None)) is not None:  # (a traceback of
            # its own port, "bind(): port must be 0-65535"; another's was waited for to the end)
            raise ValueError(f"{where}: cluster.{job}: the address {wrong}: a port is 1 to 65535")
    tasks: dict[str, str] = {}
    for job, addresses in cluster.items():
        for i, address in enumerate(addresses):
            same = _same_place(address)
            if same in tasks:  # the task waited for itself, for as long as the wait lasts ("localhost:1" and
                # "127.0.0.1:1" alike)
                raise ValueError(f"{where}: the address {address} is given to two tasks ({tasks[same]} and {job} "
                                 f"{i}): each task of the cluster has its own host:port")
            tasks[same] = f"{job} {i}"
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"{where}: no \"task\" {{\"type\": ..., \"index\": ...}} saying which of the cluster's tasks "
                         f"this process is (each process has its own): {raw!r}")
    job, index = task["type"], task["index"]
    if isinstance(index, str) and index.strip().isdigit():  # "0": TensorFlow reads it as 0
        index = task["index"] = int(index)
    if job not in cluster:
        raise ValueError(f"{where}: task.type {job!r} is not a job of the cluster ({', '.join(cluster)}; names are "
                         "lower case)")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise ValueError(f"{where}: task.index {index!r}: the cluster's {job!r} job has {len(cluster[job])} "
                         f"task(s), numbered from 0")
    return config


def _port(address: str) -> int | None:
    """The port of a "host:port" address, or None where it has none of ASCII digits ("2320²" is a digit to str)."""
    port = address.rpartition(":")[2]
    return int(port) if port.isascii() and port.isdigit() else None


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")  # this machine's, under its usual names


def _same_place(address: str) -> str:
    """`address` with this machine's usual names as one, so that two of its tasks at one port are told apart."""
    host, _, port = address.rpartition(":")
    return f"localhost:{port}" if host.lower() in LOOPBACK_NAMES else address


def worker_role() -> tuple[str, int, bool]:
    """`(task type, task index, is chief)` from `TF_CONFIG` (`("chief", 0, True)` without it).

    The chief is the `chief` task, or worker 0 when the cluster has no `chief`.

    Raises:
        ValueError: as `read_tf_config`.
    """
    config = read_tf_config()
    if config is None:
        return "chief", 0, True
    job, index = config["task"]["type"], config["task"]["index"]
    return job, index, job == "chief" or (job == "worker" and index == 0 and "chief" not in config["cluster"])


def wait_limit() -> float:
    """Seconds a worker waits for its cluster: `ACGA_CLUSTER_WAIT_S` where set ("inf": no limit), else
    `CLUSTER_WAIT_S`.

    Raises:
        ValueError: `ACGA_CLUSTER_WAIT_S` is not a positive number.
    """
    raw = os.environ.get(WAIT_ENV)
    if raw is None:
        return CLUSTER_WAIT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{WAIT_ENV}={raw!r}: expected the seconds a worker waits for its cluster (a positive number)")
    return seconds


def multi_worker_strategy(config: dict[str, Any], wait_s: float | None = None
                          ) -> tf.distribute.MultiWorkerMirroredStrategy:
    """TensorFlow's `MultiWorkerMirroredStrategy` for `config` (`read_tf_config`), once every task of the cluster has
    started (`rendezvous`): TensorFlow's own wait for the cluster holds the interpreter in C++, unbounded, deaf to
    Ctrl-C and SIGTERM. SIGTERM's handler, which TensorFlow's preemption notifier takes over, is put back after.

    Raises:
        ValueError: as `rendezvous`.
        KeyboardInterrupt: Ctrl-C or SIGTERM while waiting.
    """
    rendezvous(config, wait_limit() if wait_s is None else wait_s)
    handler = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)  # else SIGTERM is only logged, and training goes on
    return strategy


def rendezvous(config: dict[str, Any], wait_s: float) -> None:
    """Returns once every other task of the cluster has started this too, in Python (each task listens on its own
    TF_CONFIG port, which TensorFlow's server takes over after, and tells each other task it is there); says every
    minute whom it waits for.

    Raises:
        ValueError: this task's port cannot be listened on (taken by another process), or the others did not all
            come within `wait_s` seconds (the message names them).
    """
    job, index = config["task"]["type"], config["task"]["index"]
    cluster = config["cluster"]
    me = cluster[job][index]
    others = {(kind, i): address for kind, addresses in cluster.items() for i, address in enumerate(addresses)
              if (kind, i) != (job, index)}
    if not others:
        return
    token = hashlib.sha256(json.dumps(cluster, sort_keys=True).encode()).hexdigest()[:16]  # the same cluster only
    port = int(me.rpartition(":")[2])
    try:
        listener = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True) \
            if socket.has_dualstack_ipv6() else socket.create_server(("", port))
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)  # create_server's own strerror names ('', port)
        raise ValueError(f"TF_CONFIG: {job} {index} cannot listen at {me} ({reason}: its port taken by "
                         "another process?); free the port, or give this task another address in every worker's "
                         "TF_CONFIG") from None
    heard, told = set(), set()
    began, noted = time.monotonic(), FIRST_NOTE_S
    listener.settimeout(0.2)
    with listener:
        while heard != set(others) or told != set(others):
            waited = time.monotonic() - began
            missing = [f"{kind} {i} at {others[(kind, i)]}" for kind, i in others if (kind, i) not in heard]
            if waited >= wait_s:
                raise ValueError(f"TF_CONFIG: {job} {index} ({me}) waited {wait_s:.0f} s for the other tasks of "
                                 f"its cluster; not started: {', '.join(missing)}; start the same command on each, "
                                 f"or check the addresses ({WAIT_ENV} sets the wait)")
            if waited >= noted:
                logger.warning("%s %d (%s) has waited %.0f s of %.0f for the other tasks of TF_CONFIG's cluster: "
                               "%s (%s sets the limit)", job, index, me, waited, wait_s, ", ".join(missing),
                               WAIT_ENV)
                noted += NOTE_EVERY_S
            try:
                connection, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                connection = None
            if connection is not None:
                with connection:
                    heard.update(_hello(connection, token, others))
            for task in [t for t in others if t not in told]:
                host, _, other_port = others[task].rpartition(":")
                try:
                    with socket.create_connection((host.strip("[]"), int(other_port)), timeout=0.5) as sending:
                        sending.sendall(f"acga-tf {token} {job} {index}\n".encode())
                    told.add(task)
                except OSError:  # not listening yet
                    pass


def _hello(connection: socket.socket, token: str, others: dict) -> set:
    """The task a connection says it is (`rendezvous`'s line), where it is of this cluster; else nothing."""
    connection.settimeout(2.0)
    try:
        words = connection.recv(256).decode("ascii", "replace").split()
    except OSError:
        return set()
    if len(words) == 4 and words[:2] == ["acga-tf", token] and words[3].isdigit():
        task = (words[2], int(words[3]))
        return {task} if task in others else set()
    return set()


def settings_fingerprint(settings: dict[str, Any]) -> dict[str, int]:
    """Each setting's fingerprint (63 bits of its JSON's SHA-256), for `check_same_settings`."""
    return {name: int.from_bytes(hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()[:8],
                                 "big") >> 1
            for name, value in settings.items()}


def gather_rows(strategy: tf.distribute.Strategy, row: list[int]) -> np.ndarray:
    """Every replica's copy of this worker's `row` of integers, from every worker of the cluster (one all-gather):
    int64 `(replicas, len(row))`, the workers in order."""
    mine = tf.constant([row], tf.int64)  # (1, n)

    def each_replica():
        return tf.identity(mine)

    @tf.function(autograph=False)  # in a graph: eagerly, TensorFlow warns of its overhead
    def gather():
        return strategy.gather(strategy.run(each_replica), axis=0)

    return gather().numpy()


def check_same_settings(strategy: tf.distribute.Strategy, settings: dict[str, Any]) -> None:
    """Refuses a cluster whose workers were given different settings (a batch size, a preset, the epochs), before
    anything is written: gathers each setting's fingerprint (`settings_fingerprint`) from every replica of every
    worker (one all-gather) and compares them.

    Raises:
        ValueError: naming the settings that differ, with this worker's values.
    """
    names = sorted(settings)
    prints = settings_fingerprint(settings)
    gathered = gather_rows(strategy, [prints[name] for name in names])  # a task lost here: `fit`'s message
    differ = [name for k, name in enumerate(names) if (gathered[:, k] != gathered[0, k]).any()]
    if differ:
        job, index, _ = worker_role()
        shown = ", ".join(f"{name} (here {settings[name]!r})" for name in differ)
        shards = any(name.startswith("shards.") for name in differ)  # (what --data names: the same command on every
        # worker, with other shards on one machine, was told to start the same command: a diff reviewer's)
        raise ValueError(f"TF_CONFIG: the cluster's workers were given different settings: {shown} on {job} {index}; "
                         "start the same command, with the same options and config, on every worker"
                         + ("; give every worker a copy of the same shards (--data, --val-data: one conversion's "
                            "files, vocab.txt with them)" if shards else ""))
