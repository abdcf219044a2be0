"""TensorFlow's runtime errors as one line a user or a client can read (docs/serving.md#signatures)."""

from __future__ import annotations

import re

import tensorflow as tf


def error_message(error: tf.errors.OpError) -> str:
    """The part of a TF runtime error a client needs, as TF Serving reports it: the failed check's message,
    without eager Python's "Graph execution error" / "Detected at node" / "{{function_node ...}}" preamble and the
    node suffix."""
    message = re.sub(r"^Graph execution error:\s*", "", getattr(error, "message", str(error)))
    message = re.sub(r"^Detected at node .*?\(most recent call last\):\n(?:(?:<stack traces unavailable>|\s+.*)\n)*",
                     "", message)
    message = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", message)  # a tf.function called eagerly
    message = re.sub(r"\s*\[Op:[^\]]*\][^\n]*", "", message)  # an eager op's "[Op:IteratorGetNext] name:"
    # a tf.data map's: "Error in user-defined function passed to ParallelMapDatasetV2:2 transformation with
    # iterator: Iterator::Root::...::ParallelMapV2: "
    message = re.sub(r"^Error in user-defined function passed to \S+ transformation with iterator: \S+: ", "",
                     message)
    return message.split("\n\t [[")[0].strip()
