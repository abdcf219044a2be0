"""Asymmetric cross-guided attention (docs/model.md#attention) and the Key-Word-Aware comparison variant.

Vision-guided language attention (F_TA) gives every pixel its own sentence vector; language-guided vision
attention (F_VA) gives every pixel a query-focused global visual context.
"""

from __future__ import annotations

import math

import keras

from acga_tf.models import precision
from acga_tf.models.coords import COORD_CHANNELS, CoordinateMap

_NEG = -1e9  # masked positions in softmax / max-pool (finite, so an all-padding row gives no NaN)


def _dense(units: int, name: str, dtype, init_std: float) -> precision.Dense:
    # docs/model.md#attention: attention Dense layers are initialised N(0, 0.02), bias 0 (the reference's init).
    return precision.Dense(units, kernel_initializer=keras.initializers.RandomNormal(stddev=init_std),
                           bias_initializer="zeros", dtype=dtype, name=name)


def _softmax_f32(scores, mask=None):
    """Softmax over the last axis in float32 (mixed precision keeps attention exact), optional key mask."""
    scores = keras.ops.cast(scores, "float32")
    if mask is not None:
        scores = keras.ops.where(mask, scores, _NEG)
    return keras.ops.softmax(scores, axis=-1)


@keras.saving.register_keras_serializable(package="acga_tf")
class CrossGuidedAttention(keras.layers.Layer):
    """ACGA's attention block (docs/model.md#attention).

    Args:
        vision_guided_attention: F_TA on (per-pixel attention over words) or off (every pixel gets the
            word-max-pooled sentence vector).
        language_guided_attention: F_VA on (query-focused spatial self-attention) or off (the video feature
            passes through).
        variant: "acga" or "key_word_aware" (Shi et al., ECCV 2018: per-pixel word weights, a visual context
            per word pooled over pixels with those weights, and per pixel the word-weighted sum of those
            contexts concatenated to the video feature).
        mask_padding: mask zero word vectors (padding) in the word softmax and word max-pool
        (docs/model.md#text-encoder: the
            reference does not).
        init_std: standard deviation of the Dense kernels' normal init (docs/model.md#attention: 0.02).

    Call arguments:
        video: `(B, h, w, Cv)` L2-normalised video feature (Cv = 832 at full width).
        text: `(B, L, Dt)` text features.
        word_mask: bool `(B, L)`, True for real words (used only with `mask_padding`).

    Returns:
        dict with `attended_text` `(B, h, w, Dt)`, `attended_video` `(B, h, w, Cv)` (key_word_aware:
        `Cv + Cv + 8`), `attended_video_full` (F_VA: all `Cv + 8` channels of `B U`), and the maps
        `word_attention` `(B, N, L)` (F_TA and key_word_aware) and `spatial_attention` `(B, N, N)` (F_VA),
        N = h·w.

    References:
        Wang et al., "Asymmetric Cross-Guided Attention Network for Actor and Action Video Segmentation
        From Natural Language Query", ICCV 2019, https://arxiv.org/abs/1908.10047
    """

    def __init__(self, vision_guided_attention: bool = True, language_guided_attention: bool = True,
                 variant: str = "acga", mask_padding: bool = False, init_std: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if variant not in ("acga", "key_word_aware"):
            raise ValueError(f"CrossGuidedAttention variant={variant!r}: expected 'acga' or 'key_word_aware'")
        self.vision_guided_attention = vision_guided_attention
        self.language_guided_attention = language_guided_attention
        self.variant, self.mask_padding, self.init_std = variant, mask_padding, init_std
        self.coords = CoordinateMap(dtype=self.dtype_policy, name="coords_res1")

    def build(self, video_shape, text_shape, word_mask_shape=None):
        _, h, w, cv = video_shape
        dt = text_shape[-1]
        self.video_channels, self.text_channels = int(cv), int(dt)
        self.coords.build(video_shape)
        cvc = int(cv) + COORD_CHANNELS  # docs/model.md#attention: 840 = 832 + 8 coords
        pixels = (video_shape[0], int(h) * int(w), cvc)
        uses_word_attention = self.vision_guided_attention or self.variant == "key_word_aware"
        if uses_word_attention:
            self.video_reduce = _dense(dt, "video_reduce", self.dtype_policy, self.init_std)  # Vr = Dense(300)(V)
            self.video_reduce.build(pixels)
        if self.language_guided_attention and self.variant == "acga":
            self.txt_increase = _dense(cvc, "txt_increase", self.dtype_policy, self.init_std)  # g = Dense(840)(max_l W)
            self.txt_increase.build((text_shape[0], dt))
            self.video_linear_k = _dense(cvc, "video_linearK", self.dtype_policy, self.init_std)
            self.video_linear_q = _dense(cvc, "video_linearQ", self.dtype_policy, self.init_std)
            self.video_linear_v = _dense(cvc, "video_linearV", self.dtype_policy, self.init_std)
            for layer in (self.video_linear_k, self.video_linear_q, self.video_linear_v):
                layer.build(pixels)

    def call(self, video, text, word_mask=None):
        batch = keras.ops.shape(video)[0]
        h, w = video.shape[1], video.shape[2]
        v = keras.ops.reshape(self.coords(video), (batch, h * w, self.video_channels + COORD_CHANNELS))  # (B,N,840)
        mask = None
        if self.mask_padding and word_mask is not None:
            mask = keras.ops.cast(word_mask, "bool")[:, None, :]  # (B, 1, L)
        outputs = {}

        if mask is None:
            sentence = keras.ops.max(text, axis=1)  # (B, Dt): max over words
        else:  # in float32: -1e9 is -inf in float16; a sentence without words gives zeros, not -1e9
            text_max = keras.ops.where(mask[:, 0, :, None], keras.ops.cast(text, "float32"), _NEG)
            has_words = keras.ops.any(mask[:, 0, :], axis=-1)[:, None]
            sentence = keras.ops.cast(keras.ops.where(has_words, keras.ops.max(text_max, axis=1), 0.0), text.dtype)

        if self.vision_guided_attention or self.variant == "key_word_aware":
            vr = self.video_reduce(v)  # (B, N, Dt)
            scores = keras.ops.einsum("bnd,bld->bnl", vr, text) / math.sqrt(self.text_channels)
            word_attention = _softmax_f32(scores, mask)  # (B, N, L), softmax over words
            outputs["word_attention"] = word_attention
            attended_text = keras.ops.einsum("bnl,bld->bnd", keras.ops.cast(word_attention, text.dtype), text)
        else:
            attended_text = keras.ops.broadcast_to(sentence[:, None, :], (batch, h * w, self.text_channels))

        if self.variant == "key_word_aware":
            a = keras.ops.cast(word_attention, v.dtype)  # (B, N, L)
            # Visual context per word, pooled over pixels with the word's weights: (B, L, Cv+8).
            context = keras.ops.einsum("bnl,bnc->blc", a, v) / (keras.ops.sum(a, axis=1)[..., None] + 1e-6)
            per_pixel = keras.ops.einsum("bnl,blc->bnc", a, context)  # (B, N, Cv+8)
            attended_video = keras.ops.concatenate([v[..., : self.video_channels], per_pixel], axis=-1)
        elif self.language_guided_attention:
            g = self.txt_increase(sentence)[:, None, :]  # (B, 1, 840)
            k = precision.gate(self.video_linear_k(v), g)
            q = precision.gate(self.video_linear_q(v), g)
            u = self.video_linear_v(v)
            scores = keras.ops.einsum("bic,bjc->bij", k, q) / math.sqrt(self.video_channels + COORD_CHANNELS)
            spatial_attention = _softmax_f32(scores)  # (B, N, N): row i = query pixel i over all j
            outputs["spatial_attention"] = spatial_attention
            full = keras.ops.einsum("bij,bjc->bic", keras.ops.cast(spatial_attention, u.dtype), u)  # (B, N, 840)
            outputs["attended_video_full"] = keras.ops.reshape(full, (batch, h, w, self.video_channels
                                                                      + COORD_CHANNELS))
            attended_video = full[..., : self.video_channels]  # docs/model.md#attention: keep the first 832 channels
        else:
            attended_video = v[..., : self.video_channels]

        outputs["attended_text"] = keras.ops.reshape(attended_text, (batch, h, w, self.text_channels))
        outputs["attended_video"] = keras.ops.reshape(attended_video, (batch, h, w, attended_video.shape[-1]))
        return outputs

    def get_config(self):
        return {**super().get_config(), "vision_guided_attention": self.vision_guided_attention,
                "language_guided_attention": self.language_guided_attention, "variant": self.variant,
                "mask_padding": self.mask_padding, "init_std": self.init_std}
