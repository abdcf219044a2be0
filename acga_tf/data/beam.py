"""The converter as an Apache Beam pipeline (`acga prepare ... --runner beam`).

The same shards as the local converter (`acga_tf.data.convert`): the shard plan is made on the driver, each shard
is one Beam element written by `shards.write_shard` (temporary name, rename, completion marker), so the bytes
do not depend on the runner or its parallelism. The driver then reads the completion markers to write the
manifest. Output paths must be visible to the driver and the Beam workers (DirectRunner: local disk).
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from acga_tf.data.shards import MARKER_DIR, ShardTask, write_shard
from acga_tf.ops import files
from acga_tf.ops.extras import install_hint


def _error_path(task: ShardTask) -> str:
    return os.path.join(task.output_dir, MARKER_DIR, task.name + ".error.json")


def _write_and_record(task: ShardTask) -> str:
    """Beam step: writes one shard; a DataError (without skip_bad) is recorded for the driver to raise."""
    result = write_shard(task)
    if "error" in result:
        files.write_json(_error_path(task), result)
    return task.name


def run_beam(tasks: Sequence[ShardTask], beam_options: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Writes the shards with Apache Beam.

    Args:
        tasks: the shards to write (`convert.plan_shards`).
        beam_options: pipeline arguments; default `--runner=DirectRunner`.

    Returns:
        One marker per shard (as `shards.write_shard` returns), errors included, in `tasks` order.

    Raises:
        ImportError: Apache Beam is not installed.
    """
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise ImportError(f"the Beam runner needs Apache Beam: {install_hint('beam')}") from None

    for task in tasks:
        if os.path.exists(_error_path(task)):
            os.remove(_error_path(task))
    options = PipelineOptions(list(beam_options) or ["--runner=DirectRunner"])
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "ShardPlan" >> beam.Create(list(tasks))
             | "Spread" >> beam.Reshuffle()
             | "WriteShard" >> beam.Map(_write_and_record))

    results = []
    for task in tasks:
        path = _error_path(task) if os.path.exists(_error_path(task)) else os.path.join(
            task.output_dir, MARKER_DIR, task.name + ".json")
        with open(path, encoding="utf-8") as f:
            results.append(json.load(f))
    return results
