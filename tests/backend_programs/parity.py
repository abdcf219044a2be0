"""Reproduces the reference parity fixture (shared/fixtures/reference) under the Keras backend of `KERAS_BACKEND`.

    KERAS_BACKEND=jax python -m tests.backend_programs.parity FIXTURE_DIR --result RESULT.json [--save DIR]

Builds the paper topology at the fixture's T and S, loads the reference weights with
`acga_tf.training.weights.load_reference_state_dict`, runs the model and writes, per logits output, the maximum
absolute difference from the fixture (and, for diagnosis, the intermediates' maximum absolute and relative
differences). With `--other-stems`, the same with the I3D stem in another form (folded where this machine has no
GPU, 3D where it has one; docs/model.md#video-encoder), in the space-to-depth form a GPU runs, and with the decoder's
transposed convolutions in their sub-pixel form (docs/model.md#decoder). With
`--save DIR` it also saves the model as `DIR/model.keras` with its inputs and outputs
(`save_load.save_with_reference`), for loading under the other backends.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from tests.backend_programs.common import active_backend, reference_weights, write_result
from tests.backend_programs.save_load import predict, save_with_reference

# fixture key → our output (the reference returns the fusion in place of res3, and all 840 attended channels)
LOGITS = {"logits_res1": "logits_res1", "logits_res2": "logits_res2", "logits_res3": "logits"}
INTERMEDIATES = {"mixed_4e": "mixed_4e", "video_feature": "video_feature", "text_feature": "text_feature",
                 "attended_text": "attended_text", "attended_video": "attended_video_full"}
FIXTURE = "acga_parity_t8_s64"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixture_dir")
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    parser.add_argument("--save", metavar="DIR", help="also save the model and its outputs to DIR")
    parser.add_argument("--other-stems", action="store_true", help="also run the I3D stem's other two forms")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    backend = active_backend()

    from acga_tf import ACGA, ACGAConfig
    from acga_tf.models.acga import intermediate_model
    from acga_tf.models.decoder import upsamplers
    from acga_tf.models.video_encoder import max_pools
    from acga_tf.training.weights import load_reference_state_dict

    with open(os.path.join(args.fixture_dir, f"{FIXTURE}.json"), encoding="utf-8") as f:
        spec = json.load(f)
    arrays = np.load(os.path.join(args.fixture_dir, f"{FIXTURE}.npz"))
    model = ACGA(ACGAConfig.preset("paper", clip_length=spec["T"], image_size=spec["S"]))
    report = load_reference_state_dict(model, reference_weights(spec))
    inputs = {"video": arrays["video"], "words": arrays["words"]}
    out = predict(intermediate_model(model), inputs)

    logits, intermediates = {}, {}
    for key, ours in LOGITS.items():
        logits[key] = float(np.max(np.abs(out[ours].reshape(arrays[key].shape) - arrays[key])))
    for key, ours in INTERMEDIATES.items():
        expected = arrays[key]
        diff = np.abs(out[ours].reshape(expected.shape) - expected)
        intermediates[key] = {"max_abs": float(diff.max()),
                              "max_rel": float((diff / np.maximum(np.abs(expected), 1e-5)).max())}

    def differences() -> dict:  # the model's logits in its forms as now set, against the fixture
        other = predict(intermediate_model(model), inputs)
        return {key: float(np.max(np.abs(other[ours].reshape(arrays[key].shape) - arrays[key])))
                for key, ours in LOGITS.items()}

    # The stem's other forms (docs/model.md#video-encoder) and the decoder's (docs/model.md#decoder), forced here:
    # each must reproduce the fixture too.
    stem = model.stage("video_encoder").blocks["Conv3d_1a_7x7"]
    on_gpu = stem.fold_time
    other_forms = {}
    if args.other_stems:
        for name, fold, space_to_depth, paired in (("other_stem", not on_gpu, False, False),
                                                   ("space_to_depth_stem", True, True, False),
                                                   ("paired_frames_stem", True, True, True)):
            stem.fold_time, stem.space_to_depth, stem.paired_frames = fold, space_to_depth, paired
            other_forms[f"max_abs_diff_{name}"] = differences()
        stem.fold_time, stem.space_to_depth, stem.paired_frames = on_gpu, on_gpu, False
        for layer in upsamplers(model):  # sub-pixel on a CPU, transposed on a GPU
            layer.sub_pixel = not on_gpu
        other_forms["max_abs_diff_other_upsample"] = differences()
        for layer in upsamplers(model):
            layer.sub_pixel = on_gpu
        for layer in max_pools(model):  # Keras' own 3-D max-pool (the model's is separable)
            layer.separable = False
        other_forms["max_abs_diff_3d_max_pool"] = differences()
        for layer in max_pools(model):
            layer.separable = True
    if args.save:
        outputs = {k: out[k] for k in ("logits_res1", "logits_res2", "logits")}
        save_with_reference(model, inputs, outputs, args.save, backend)
    write_result(args.result, {
        "backend": backend,
        "loaded": len(report.loaded), "unused_checkpoint": len(report.unused_checkpoint),
        "unset_model": len(report.unset_model),
        "max_abs_diff": logits, "intermediates": intermediates, "saved": args.save,
        "stem_folded": not on_gpu, **other_forms,
        "seconds": round(time.perf_counter() - start, 2),
    })


if __name__ == "__main__":
    main()
