"""The converter's defaults and choices (`acga_tf/data/convert.py`) that `acga prepare`'s options state: plain values
here, not in `data/`, since importing any `acga_tf.data` module loads TensorFlow (its `__init__` exports
`make_dataset`), and `acga prepare a2d --help` answers without it (`acga_tf/command_options.py`,
docs/architecture.md).
"""

DEFAULT_SHARD_SIZE = 64  # annotated frames per shard
DEFAULT_WINDOW = 24  # stored frames around the annotated frame: covers T = 8, 16, 24 (docs/model.md#presets, Table 2)
RUNNERS = ("local", "beam")
METADATA_NAME = "jhmdb_sentences_samples_metadata.json"  # MTTR's frozen J-HMDB frames (docs/evaluation.md#protocol)
