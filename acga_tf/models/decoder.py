"""Multi-resolution decoder and its fusion (MRF) (docs/model.md#decoder).

res1 at S/16 → upsample ×4 → res2 at S/4 → upsample ×4 → res3 at S; the fusion conv combines the chosen
branch logits at S. Layer names follow the reference checkpoint (`conv_mask_small`, `deconv_small`, ...).

res2 and res3 start with a 3×3 conv over concat(features, bilinear-resized attended text, coords)
(docs/model.md#decoder). That
conv is linear, so it is computed as the sum of three convs over the parts, with the same kernel split by input
channels, and the text part never builds the resized text: a 3×3 "same" conv of a bilinear resize is, along each
axis, three shifted copies of the 1-D resize matrix (`tap_matrices`), so conv3×3(resize(t)) =
Σ_{u,v} A_u (t · K[u, v]) B_vᵀ, contracted at the text's S/16 grid. Same result up to float rounding; at the paper
preset this drops the res3 text conv's 45 GMAC per clip (300 resized channels at 512²) to about 2.
"""

from __future__ import annotations

import keras
import numpy as np

from acga_tf.models import device, precision
from acga_tf.models.coords import COORD_CHANNELS, CoordinateMap, coordinate_map


def _resize(x, size: int):
    """Bilinear resize with half-pixel centres (TF `tf.image.resize` = PyTorch align_corners=False;
    docs/model.md#decoder)."""
    return keras.ops.image.resize(x, (size, size), interpolation="bilinear", antialias=False)


def bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The `(size_out, size_in)` matrix of 1-D bilinear resizing with half-pixel centres, no antialiasing: what
    `tf.image.resize(..., "bilinear")` does along one axis (source coordinate (i + 0.5)·in/out − 0.5, clamped)."""
    x = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    low = np.floor(x)
    frac = x - low
    matrix = np.zeros((size_out, size_in), np.float64)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, np.clip(low, 0, size_in - 1).astype(int)), 1.0 - frac)
    np.add.at(matrix, (rows, np.clip(low + 1, 0, size_in - 1).astype(int)), frac)
    return matrix


def tap_matrices(size_in: int, size_out: int) -> np.ndarray:
    """`(3, size_out, size_in)`: the bilinear resize matrix read at output rows i − 1, i, i + 1 (zero outside), the
    three taps of a "same" 3×3 conv along one axis, so that conv3×3(resize(t))[i, j] =
    Σ_{u,v,p,q} taps_h[u, i, p] · taps_w[v, j, q] · (t[p, q] · K[u, v])."""
    padded = np.zeros((size_out + 2, size_in), np.float64)
    padded[1:-1] = bilinear_matrix(size_in, size_out)
    return np.stack([padded[u:u + size_out] for u in range(3)]).astype(np.float32)


class _MaskBranch(keras.layers.Layer):
    """Conv3×3(f)+ReLU, Conv3×3(f)+ReLU, Conv1×1(1): one resolution's logits (docs/model.md#decoder).

    Called with `x` alone, the first conv takes `x` as is (res1: features, text and coords already concatenated).
    Called with `(features, text)`, it takes concat(features, bilinear resize of `text` to the features' size, coords)
    without building that concatenation (module docstring); the kernel is the same `(3, 3, Cf + Dt + 8, f)` one.
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv_0 = precision.Conv2D(filters, 3, padding="same", activation="relu", dtype=self.dtype_policy,
                                         name="conv_0")
        self.conv_2 = precision.Conv2D(filters, 3, padding="same", activation="relu", dtype=self.dtype_policy,
                                         name="conv_2")
        self.conv_4 = precision.Conv2D(1, 1, dtype=self.dtype_policy, name="conv_4")
        # Read when traced: conv_4 (1×1, one output channel) as a matrix product over the channels, the same sum
        # (`benchmarks/gpu.py --mask-logits` compares the forms).
        self.logits_as_product = False

    def build(self, x_shape, text_shape=None):
        # conv_0 sees concat(x, resized text, coords) when there is text (computed split, see `call`).
        extra = 0 if text_shape is None else int(text_shape[-1]) + COORD_CHANNELS
        self.conv_0.build(tuple(x_shape[:-1]) + (int(x_shape[-1]) + extra,))
        shape = tuple(x_shape[:-1]) + (self.filters,)
        self.conv_2.build(shape)
        self.conv_4.build(shape)
        if text_shape is not None:
            height, width = int(x_shape[1]), int(x_shape[2])
            self._taps_h = tap_matrices(int(text_shape[1]), height)
            self._taps_w = tap_matrices(int(text_shape[2]), width)
            self._coords = coordinate_map(height, width)[None]

    def call(self, x, text=None):
        if text is None:
            return self._logits(self.conv_2(self.conv_0(x)))
        ops = keras.ops
        dtype = x.dtype
        kernel = ops.cast(self.conv_0.kernel, dtype)
        cf, dt = x.shape[-1], text.shape[-1]
        h = ops.conv(x, kernel[:, :, :cf], padding="same")
        # Text: per tap (u, v), t·K[u, v] at the text's grid, then the shifted resize matrices along w and h.
        y = ops.einsum("bpqc,uvcf->bpquvf", text, kernel[:, :, cf:cf + dt])
        y = ops.einsum("vjq,bpquvf->bpjuf", ops.cast(self._taps_w, dtype), y)
        h = h + ops.einsum("uip,bpjuf->bijf", ops.cast(self._taps_h, dtype), y)
        # Coords: a constant map, so one image's conv serves the whole batch.
        coords = ops.conv(ops.cast(self._coords, dtype), kernel[:, :, cf + dt:], padding="same")
        h = ops.relu(precision.add_bias(h + coords, self.conv_0.bias))
        return self._logits(self.conv_2(h))

    def _logits(self, h):
        if not self.logits_as_product:
            return self.conv_4(h)
        kernel = keras.ops.cast(self.conv_4.kernel[0, 0], h.dtype)  # (filters, 1)
        return precision.add_bias(keras.ops.matmul(h, kernel), self.conv_4.bias)


def sub_pixel_transpose(x, kernel, patches: bool = False):
    """The 8×8, stride-4, "same" transposed convolution of `x` `(B, H, W, C)` with `kernel` `(8, 8, F, C)` (Keras'
    `Conv2DTranspose` layout; no bias) as one stride-1 2×2 convolution with 16·F outputs, a filter per output phase,
    whose outputs are then interleaved into the 4H × 4W grid ("sub-pixel", docs/model.md#decoder).

    Output pixel 4q + r (per axis) is x[q−1]·K[r+6] + x[q]·K[r+2] for phases r = 0, 1, and x[q]·K[r+2] + x[q+1]·K[r−2]
    for r = 2, 3: two inputs each, so a 2×2 window over `x` padded by one pixel gives every phase, read at q (phases
    0, 1) or q + 1 (phases 2, 3). The same products and sums as the transposed convolution; the convolution computes
    (H+1)(W+1)/(HW) of its multiply-adds (1.6% more at 128²).

    With `patches`, the 2×2 convolution is one matrix product over the input's 2×2 patches stacked as channels
    (`(B, H+1, W+1, 4C)` by `(4C, 16F)`): the same products, a kernel gradient that is one matrix product too.
    """
    ops = keras.ops
    height, width = x.shape[1], x.shape[2]
    filters, channels = kernel.shape[2], kernel.shape[3]
    # Per axis, the kernel's tap for window position t and phase r is [[6, 7, 4, 5], [2, 3, 0, 1]][t][r]: the 8 taps
    # as pairs in reverse order (a flip, not a gather: its gradient stays a dense tensor).
    w = ops.reshape(ops.flip(ops.reshape(kernel, (4, 2, 4, 2, filters, channels)), axis=(0, 2)),
                    (2, 4, 2, 4, filters, channels))  # [th, rh, tw, rw, F, C]
    w = ops.transpose(w, (0, 2, 5, 1, 3, 4))
    w = ops.reshape(w, (2, 2, channels, 16 * filters))  # (th, tw, C, (rh, rw, F))
    x = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    if patches:  # (th, tw, C) as in w's rows
        x = ops.concatenate([x[:, th:th + height + 1, tw:tw + width + 1] for th in (0, 1) for tw in (0, 1)], -1)
        y = ops.matmul(x, ops.reshape(w, (4 * channels, 16 * filters)))
    else:
        y = ops.conv(x, w, padding="valid")  # (B, H+1, W+1, 16F)
    y = ops.reshape(y, (-1, height + 1, width + 1, 4, 4, filters))
    y = ops.concatenate([y[:, :height, :, :2], y[:, 1:, :, 2:]], axis=3)  # rows: phases 0, 1 at q; 2, 3 at q + 1
    y = ops.concatenate([y[:, :, :width, :, :2], y[:, :, 1:, :, 2:]], axis=4)  # columns likewise
    y = ops.transpose(y, (0, 1, 3, 2, 4, 5))  # (B, H, rh, W, rw, F)
    return ops.reshape(y, (-1, 4 * height, 4 * width, filters))


class _Upsample(keras.layers.Layer):
    """ConvTranspose 8×8 stride 4 ("same": output exactly 4×) then Conv3×3, no activations (docs/model.md#decoder).

    `sub_pixel` (set by `build` where the backend computes on a GPU, read when the layer is traced): the transposed
    convolution runs as `sub_pixel_transpose`, the same sums over the same variables. On the H200 under JAX the paper
    preset's forward ran 1.08x and its training step 1.05x faster in this form; on a CPU under TensorFlow the training
    step ran 0.93x (docs/model.md#decoder; `benchmarks/gpu.py --upsample` compares them)."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.deconv_0 = precision.Conv2DTranspose(filters, 8, strides=4, padding="same", dtype=self.dtype_policy,
                                                    name="deconv_0")
        self.conv_1 = precision.Conv2D(filters, 3, padding="same", dtype=self.dtype_policy, name="conv_1")
        self.sub_pixel = False
        self.sub_pixel_patches = False  # with sub_pixel: its 2×2 conv as a matrix product (`sub_pixel_transpose`)

    def build(self, input_shape):
        self.deconv_0.build(input_shape)
        self.conv_1.build((input_shape[0], input_shape[1] * 4, input_shape[2] * 4, self.filters))
        self.sub_pixel = device.on_gpu()

    def call(self, x):
        if not self.sub_pixel:
            return self.conv_1(self.deconv_0(x))
        dtype = self.deconv_0.compute_dtype
        y = sub_pixel_transpose(keras.ops.cast(x, dtype), keras.ops.cast(self.deconv_0.kernel, dtype),
                                patches=self.sub_pixel_patches)
        return self.conv_1(precision.add_bias(y, self.deconv_0.bias))


def upsamplers(layer) -> list:
    """Every `_Upsample` inside `layer` (a model or the decoder), e.g. to switch its form before tracing."""
    return [sub for sub in layer._flatten_layers() if isinstance(sub, _Upsample)]


def mask_branches(layer) -> list:
    """Every `_MaskBranch` inside `layer` (a model or the decoder), e.g. to switch its form before tracing."""
    return [sub for sub in layer._flatten_layers() if isinstance(sub, _MaskBranch)]


@keras.saving.register_keras_serializable(package="acga_tf")
class MultiResolutionDecoder(keras.layers.Layer):
    """The three resolution branches and the MRF fusion (docs/model.md#decoder).

    Args:
        filters: widths of the res1, res2 and res3 branches (docs/model.md#decoder: 256, 128, 64).
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
        self.coords = CoordinateMap(dtype=dtype, name="coords_res1")  # res2 and res3 add theirs in _MaskBranch
        self.conv_mask_small = _MaskBranch(f1, dtype=dtype, name="conv_mask_small")
        self.deconv_small = _Upsample(f1, dtype=dtype, name="deconv_small")
        self.conv_mask_medium = _MaskBranch(f2, dtype=dtype, name="conv_mask_medium")
        self.deconv_medium = _Upsample(f2, dtype=dtype, name="deconv_medium")
        self.conv_mask_large = _MaskBranch(f3, dtype=dtype, name="conv_mask_large")
        self.conv_fusion = (precision.Conv2D(1, 3, padding="same", dtype=dtype, name="conv_fusion")
                            if self.fusion_resolutions else None)

    def build(self, attended_video_shape, attended_text_shape):
        b, h, w, cv = attended_video_shape
        dt = attended_text_shape[-1]
        f1, f2, f3 = self.filters
        shapes = [(b, h * k, w * k) for k in (1, 4, 16)]
        self.coords.build(shapes[0] + (None,))
        # docs/model.md#decoder: 1140 = 832 + 300 + 8; 564 = 256 + 300 + 8; 436 = 128 + 300 + 8
        self.conv_mask_small.build(shapes[0] + (cv + dt + COORD_CHANNELS,))
        self.deconv_small.build(shapes[0] + (cv,))
        self.conv_mask_medium.build(shapes[1] + (f1,), attended_text_shape)
        self.deconv_medium.build(shapes[1] + (f1,))
        self.conv_mask_large.build(shapes[2] + (f2,), attended_text_shape)
        if self.conv_fusion is not None:
            self.conv_fusion.build(shapes[2][:3] + (len(self.fusion_resolutions),))

    def call(self, attended_video, attended_text):
        size1 = attended_video.shape[1]
        size3 = size1 * 16
        text = attended_text
        logits_res1 = self.conv_mask_small(self.coords(keras.ops.concatenate([attended_video, text], -1)))
        medium = self.deconv_small(attended_video)  # (B, S/4, S/4, 256)
        logits_res2 = self.conv_mask_medium(medium, text)  # concat(medium, resized text, coords) → convs
        large = self.deconv_medium(medium)  # (B, S, S, 128)
        logits_res3 = self.conv_mask_large(large, text)
        outputs = {"logits_res1": logits_res1, "logits_res2": logits_res2, "logits_res3": logits_res3}
        if self.conv_fusion is not None:
            at_full = {1: _resize(logits_res1, size3), 2: _resize(logits_res2, size3), 3: logits_res3}
            logits = self.conv_fusion(keras.ops.concatenate([at_full[r] for r in self.fusion_resolutions], -1))
        else:
            logits = logits_res3
        outputs["logits"] = logits
        return {k: keras.ops.cast(v, "float32") for k, v in outputs.items()}  # logits stay float32 when mixed

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "fusion_resolutions": self.fusion_resolutions}
