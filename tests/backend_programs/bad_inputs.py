"""Bad arrays given to `predict`, `evaluate` and `fit` leave the model whole (under JAX, Keras takes the variables'
values out of the model for its loop, and an error inside a step left it without its weights).

    KERAS_BACKEND=jax python -m tests.backend_programs.bad_inputs --result RESULT.json

The tiny model at S=32 predicts one clip, is given a sentence of the wrong length, 0/255 targets and targets without
their channel axis, and predicts the clip again; the result records each refusal's message and the largest
difference between the two predictions.
"""

from __future__ import annotations

import argparse

import numpy as np

from tests.backend_programs.common import active_backend, write_result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    args = parser.parse_args(argv)
    backend = active_backend()
    from acga_tf.models.acga import ACGA
    from acga_tf.models.config import ACGAConfig

    config = ACGAConfig.preset("tiny", image_size=32)
    model = ACGA(config)
    rng = np.random.default_rng(0)
    inputs = {"video": rng.uniform(-1, 1, (1, config.clip_length, 32, 32, 3)).astype(np.float32),
              "words": rng.normal(size=(1, config.sentence_length, config.word_dim)).astype(np.float32)}
    before = model.predict(inputs, verbose=0)["logits"]
    model.compile()
    masks = {name: np.zeros((1, size, size, 1), np.float32) for name, size in
             (("logits_res1", 2), ("logits_res2", 8), ("logits", 32))}
    refusals = {}
    for name, call in {
        "predict, a sentence of 12 words": lambda: model.predict(
            dict(inputs, words=np.zeros((1, 12, config.word_dim), np.float32)), verbose=0),
        "evaluate, 0/255 targets": lambda: model.evaluate(
            inputs, {name: mask + 255 for name, mask in masks.items()}, verbose=0),
        "fit, targets without their channel axis": lambda: model.fit(
            inputs, {name: mask[..., 0] for name, mask in masks.items()}, verbose=0),
    }.items():
        try:
            call()
            refusals[name] = None
        except ValueError as e:
            refusals[name] = str(e)
    after = model.predict(inputs, verbose=0)["logits"]
    write_result(args.result, {"backend": backend, "refusals": refusals,
                               "difference": float(np.abs(np.asarray(after) - np.asarray(before)).max())})


if __name__ == "__main__":
    main()
