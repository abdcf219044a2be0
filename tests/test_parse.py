"""acga_tf/data/parse.py: the left/right words and the flip augmentation of `parse_train`."""

import numpy as np
import tensorflow as tf

from acga_tf.data.config import DataConfig
from acga_tf.data.parse import VIDEO, mentions_left_or_right, parse_train
from acga_tf.models.config import ACGAConfig

CONFIG = ACGAConfig.preset("tiny")  # T=8, S=64, L=8, D=32


def test_left_right_words():
    yes = ["the man on the left", "Rightmost dog walking", "a car on the right-hand side", "red square moving left"]
    no = ["a bright red ball", "the upright man", "a dog", "the copyright holder"]
    np.testing.assert_array_equal(mentions_left_or_right(tf.constant(yes + no)), [True] * 4 + [False] * 4)


def test_flip_only_for_sentences_without_left_right():
    video = tf.reshape(tf.range(2 * 8 * 8 * 3, dtype=tf.float32), (2, 8, 8, 3)) / 400.0
    mask = tf.concat([tf.ones((8, 3, 1), tf.uint8), tf.zeros((8, 5, 1), tf.uint8)], axis=1)
    config = DataConfig.for_model(CONFIG.replace(image_size=16))  # the pipeline part of the config

    def vectorizer(strings):
        return tf.zeros((tf.shape(strings)[0], 8, 32))

    def flips(sentence):
        out = []
        for seed in range(20):
            sample = {VIDEO: video, "mask": mask, "sentence": tf.constant(sentence)}
            x, y = parse_train(sample, config, vectorizer, tf.constant([7, seed], tf.int64))
            flipped = bool(tf.reduce_all(x["video"] == tf.reverse(video, axis=[-2])))
            assert flipped or bool(tf.reduce_all(x["video"] == video))
            # The mask moves with the frames.
            np.testing.assert_array_equal(y["logits"].numpy(),
                                          (tf.reverse(mask, [-2]) if flipped else mask).numpy().astype(np.float32))
            out.append(flipped)
        return out

    free = flips("a red square")
    assert any(free) and not all(free)
    assert not any(flips("the square on the left"))
    assert not any(flips("a red square moving right"))
    assert flips("a red square") == free  # stateless: same seeds, same flips
