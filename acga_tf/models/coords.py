"""Coordinate maps: 8 channels of normalised cell geometry per grid cell (docs/model.md#coordinates)."""

from __future__ import annotations

import keras
import numpy as np

COORD_CHANNELS = 8  # docs/model.md#coordinates


def coordinate_map(height: int, width: int) -> np.ndarray:
    """The coordinate map (docs/model.md#coordinates) of an `height × width` grid.

    Cell (i, j) gets `[xmin, ymin, xmax, ymax, xctr, yctr, 1/w, 1/h]` with `xmin = 2j/w − 1`,
    `xmax = 2(j+1)/w − 1`, `ymin = 2i/h − 1`, `ymax = 2(i+1)/h − 1`.

    Returns:
        float32 `(height, width, 8)`.
    """
    j = np.arange(width, dtype=np.float64)[None, :].repeat(height, 0)
    i = np.arange(height, dtype=np.float64)[:, None].repeat(width, 1)
    xmin, xmax = 2 * j / width - 1, 2 * (j + 1) / width - 1
    ymin, ymax = 2 * i / height - 1, 2 * (i + 1) / height - 1
    channels = [xmin, ymin, xmax, ymax, (xmin + xmax) / 2, (ymin + ymax) / 2,
                np.full_like(xmin, 1 / width), np.full_like(xmin, 1 / height)]
    return np.stack(channels, axis=-1).astype(np.float32)


@keras.saving.register_keras_serializable(package="acga_tf")
class CoordinateMap(keras.layers.Layer):
    """Appends the coordinate map (docs/model.md#coordinates) to a `(B, H, W, C)` feature map, giving `(B, H, W, C +
    8)`.

    The map is a constant built once, when the layer is built (not per call).
    """

    def build(self, input_shape):
        height, width = int(input_shape[1]), int(input_shape[2])
        self._coords = keras.ops.convert_to_tensor(coordinate_map(height, width)[None], dtype=self.compute_dtype)

    def call(self, features):
        batch = keras.ops.shape(features)[0]
        coords = keras.ops.broadcast_to(self._coords, (batch,) + tuple(self._coords.shape[1:]))
        return keras.ops.concatenate([features, keras.ops.cast(coords, features.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + COORD_CHANNELS,)
