"""acga_tf/models/coords.py: the coordinate map and `CoordinateMap` (docs/model.md#coordinates)."""

import numpy as np
from layer_test_case import run_layer_test

from acga_tf.models.coords import CoordinateMap, coordinate_map

FEATURES = np.random.default_rng(0).standard_normal((2, 4, 4, 16)).astype("float32")  # (B, h, w, C)


def test_coordinate_map_matches_spec_section_3():
    c = coordinate_map(2, 4)
    assert c.shape == (2, 4, 8)
    # cell (i=1, j=2) of a 2x4 grid: xmin = 2*2/4-1 = 0, xmax = 0.5, ymin = 0, ymax = 1
    np.testing.assert_allclose(c[1, 2], [0.0, 0.0, 0.5, 1.0, 0.25, 0.5, 0.25, 0.5])


def test_coordinate_map_layer():
    out = run_layer_test(CoordinateMap, {}, FEATURES, expected_output_shape=(2, 4, 4, 16 + 8),
                         expected_num_trainable_weights=0, expected_num_non_trainable_weights=0)
    np.testing.assert_array_equal(out[..., :16], FEATURES)  # the features pass through, the map follows
    np.testing.assert_array_equal(out[..., 16:], np.broadcast_to(coordinate_map(4, 4), (2, 4, 4, 8)))
