"""The named experiments, the precisions `fit` trains under and how often it backs up: plain values, free of Keras
and TensorFlow, so that `acga train --help` and `acga demo --help`, which list them, answer without loading either
(`acga_tf/command_options.py`, docs/architecture.md). `experiment` and `train` take them from here.
"""

from __future__ import annotations

from typing import Any

# Schedules and data settings of the named experiments; the architectures are `ACGAConfig.preset(name)`.
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "paper": {"data": {}, "training": {},
              "description": "The paper: A2D Sentences, Adam 5e-4 (x0.1 for the 9th epoch), batch 4 per replica."},
    "small": {"data": {}, "training": {},
              "description": "The small architecture with the paper's schedule: CPU experiments."},
    "tiny": {"data": {}, "training": {"learning_rate": 2e-3, "epochs": 12, "lr_decay_epoch": 10, "batch_size": 8},
             "description": "The tiny architecture trained from scratch: the tests."},
    "demo": {"data": {}, "training": {"learning_rate": 2e-3, "epochs": 5, "lr_decay_epoch": 4, "batch_size": 8},
             "description": "`acga demo`: the demo architecture (tiny at S=128) for 5 epochs on the synthetic "
                            "world (measured on a 2-core AVX512-BF16 host on 2026-12-01: 7 min 02 s for the whole "
                            "`acga demo`, held-out mean IoU 56.0, in mixed_bfloat16_head; 10 to 12 min on slower "
                            "days' hosts of that type; README Status)."},
}

# The precisions `fit` trains under: name -> `ACGA` dtype arguments (docs/training.md#mixed-precision).
# mixed_bfloat16_head: the head (text encoder, attention, decoder) in mixed_bfloat16, the I3D video encoder in float32.
PRECISIONS = {
    "float32": {"dtype": "float32"},
    "mixed_bfloat16": {"dtype": "mixed_bfloat16"},
    "mixed_float16": {"dtype": "mixed_float16"},
    "mixed_bfloat16_head": {"dtype": "mixed_bfloat16", "encoder_dtype": "float32"},
}
POLICIES = tuple(PRECISIONS)
DEFAULT_BACKUP_EVERY = 100  # optimizer steps between backups (and at every epoch's end)
