"""Named architectures (keras-hub style: a config plus metadata), docs/model.md#presets.

Each entry's `config` holds the `ACGAConfig` fields that differ from the paper's defaults; `ACGAConfig.preset(name)`
builds it. Training schedules of the same names live with the experiment presets (`acga_tf.training.defaults`).
"""

_TINY = {"clip_length": 8, "image_size": 64, "sentence_length": 8, "word_dim": 32, "text_dim": 64,
         "i3d_width_multiplier": 0.125, "decoder_filters": (64, 32, 16), "i3d_trainable_from": "Conv3d_1a_7x7",
         "attention_init_std": 1.0}

PRESETS = {
    "paper": {
        "config": {},
        "metadata": {
            "description": "ACGA as published: T=16, S=512, L=20, D=300, I3D to Mixed_4f (only Mixed_4f trains), "
                           "Conv1D text encoder, both attentions, MRF over res1..res3.",
            "params": {"head": 23_664_391, "fusion": 28},  # text encoder + attention + decoder + fusion; MRF conv
        },
    },
    "small": {
        "config": {"clip_length": 8, "image_size": 128, "i3d_width_multiplier": 0.5, "decoder_filters": (128, 64, 32),
                   "i3d_trainable_from": "Mixed_4b"},
        "metadata": {"description": "Same topology at T=8, S=128, half-width I3D: CPU experiments."},
    },
    "tiny": {
        "config": _TINY,
        "metadata": {"description": "Same topology at T=8, S=64, L=8, D=32, 1/8-width I3D trained from scratch "
                                    "(sharper initial attention, attention_init_std=1): the tests."},
    },
    "demo": {
        "config": {**_TINY, "image_size": 128, "attention_init_std": 0.2},
        "metadata": {"description": "The tiny topology at S=128 with attention_init_std=0.2 (measured best for the "
                                    "synthetic world, docs/model.md#initialisation): `acga demo` on a CPU."},
    },
}
