"""Multi-resolution decoder and its fusion (MRF) (spec §6).

res1 at S/16 → upsample ×4 → res2 at S/4 → upsample ×4 → res3 at S; the fusion conv combines the chosen
branch logits at S. Layer names follow the reference checkpoint (`conv_mask_small`, `deconv_small`, ...).
"""

from __future__ import annotations

import keras

from acga_tf.coords import CoordinateMap

_BRANCHES = ("small", "medium", "large")  # res1, res2, res3 (reference names)


def _resize(x, size: int):
    """Bilinear resize with half-pixel centres (spec §6: TF `tf.image.resize` = PyTorch align_corners=False)."""
    return keras.ops.image.resize(x, (size, size), interpolation="bilinear", antialias=False)


class _MaskBranch(keras.layers.Layer):
    """Conv3×3(f)+ReLU, Conv3×3(f)+ReLU, Conv1×1(1): one resolution's logits (spec §6)."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv_0 = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=self.dtype_policy,
                                          name="conv_0")
        self.conv_2 = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=self.dtype_policy,
                                          name="conv_2")
        self.conv_4 = keras.layers.Conv2D(1, 1, dtype=self.dtype_policy, name="conv_4")

    def build(self, input_shape):
        self.conv_0.build(input_shape)
        shape = tuple(input_shape[:-1]) + (self.filters,)
        self.conv_2.build(shape)
        self.conv_4.build(shape)

    def call(self, x):
        return self.conv_4(self.conv_2(self.conv_0(x)))


class _Upsample(keras.layers.Layer):
    """ConvTranspose 8×8 stride 4 ("same": output exactly 4×) then Conv3×3, no activations (spec §6)."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.deconv_0 = keras.layers.Conv2DTranspose(filters, 8, strides=4, padding="same", dtype=self.dtype_policy,
                                                     name="deconv_0")
        self.conv_1 = keras.layers.Conv2D(filters, 3, padding="same", dtype=self.dtype_policy, name="conv_1")

    def build(self, input_shape):
        self.deconv_0.build(input_shape)
        self.conv_1.build((input_shape[0], input_shape[1] * 4, input_shape[2] * 4, self.filters))

    def call(self, x):
        return self.conv_1(self.deconv_0(x))


@keras.saving.register_keras_serializable(package="acga_tf")
class MultiResolutionDecoder(keras.layers.Layer):
    """The three resolution branches and the MRF fusion (spec §6).

    Args:
        filters: widths of the res1, res2 and res3 branches (spec §6: 256, 128, 64).
        fusion_resolutions: which branch logits the fusion conv takes (subset of (1, 2, 3), in that order);
            empty: no fusion, `logits` is res3's logits (Table 1 "Baseline").

    Call arguments:
        attended_video: `(B, S/16, S/16, Cv)`.
        attended_text: `(B, S/16, S/16, Dt)`.

    Returns:
        dict of float32 logits: `logits_res1` `(B, S/16, S/16, 1)`, `logits_res2` `(B, S/4, S/4, 1)`,
        `logits_res3` and `logits` `(B, S, S, 1)`.
    """

    def __init__(self, filters=(256, 128, 64), fusion_resolutions=(1, 2, 3), **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.fusion_resolutions = tuple(int(r) for r in fusion_resolutions)
        f1, f2, f3 = self.filters
        dtype = self.dtype_policy
        self.coords = [CoordinateMap(dtype=dtype, name=f"coords_res{r}") for r in (1, 2, 3)]
        self.conv_mask_small = _MaskBranch(f1, dtype=dtype, name="conv_mask_small")
        self.deconv_small = _Upsample(f1, dtype=dtype, name="deconv_small")
        self.conv_mask_medium = _MaskBranch(f2, dtype=dtype, name="conv_mask_medium")
        self.deconv_medium = _Upsample(f2, dtype=dtype, name="deconv_medium")
        self.conv_mask_large = _MaskBranch(f3, dtype=dtype, name="conv_mask_large")
        self.conv_fusion = (keras.layers.Conv2D(1, 3, padding="same", dtype=dtype, name="conv_fusion")
                            if self.fusion_resolutions else None)

    def build(self, attended_video_shape, attended_text_shape):
        b, h, w, cv = attended_video_shape
        dt = attended_text_shape[-1]
        f1, f2, f3 = self.filters
        shapes = [(b, h * k, w * k, None) for k in (1, 4, 16)]
        for coords, shape in zip(self.coords, shapes):
            coords.build(shape)
        # spec §6: 1140 = 832 + 300 + 8; 564 = 256 + 300 + 8; 436 = 128 + 300 + 8
        self.conv_mask_small.build(shapes[0][:3] + (cv + dt + 8,))
        self.deconv_small.build(shapes[0][:3] + (cv,))
        self.conv_mask_medium.build(shapes[1][:3] + (f1 + dt + 8,))
        self.deconv_medium.build(shapes[1][:3] + (f1,))
        self.conv_mask_large.build(shapes[2][:3] + (f2 + dt + 8,))
        if self.conv_fusion is not None:
            self.conv_fusion.build(shapes[2][:3] + (len(self.fusion_resolutions),))

    def call(self, attended_video, attended_text):
        size1 = attended_video.shape[1]
        size2, size3 = size1 * 4, size1 * 16
        text = attended_text
        logits_res1 = self.conv_mask_small(self.coords[0](keras.ops.concatenate([attended_video, text], -1)))
        medium = self.deconv_small(attended_video)  # (B, S/4, S/4, 256)
        logits_res2 = self.conv_mask_medium(self.coords[1](keras.ops.concatenate([medium, _resize(text, size2)], -1)))
        large = self.deconv_medium(medium)  # (B, S, S, 128)
        logits_res3 = self.conv_mask_large(self.coords[2](keras.ops.concatenate([large, _resize(text, size3)], -1)))
        outputs = {"logits_res1": logits_res1, "logits_res2": logits_res2, "logits_res3": logits_res3}
        if self.conv_fusion is not None:
            at_full = {1: _resize(logits_res1, size3), 2: _resize(logits_res2, size3), 3: logits_res3}
            logits = self.conv_fusion(keras.ops.concatenate([at_full[r] for r in self.fusion_resolutions], -1))
        else:
            logits = logits_res3
        outputs["logits"] = logits
        return {k: keras.ops.cast(v, "float32") for k, v in outputs.items()}  # logits are float32 (STYLE §3)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "fusion_resolutions": self.fusion_resolutions}
