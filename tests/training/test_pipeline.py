"""Training inputs: sample weights and augmentation."""

from __future__ import annotations

import numpy as np

from training.pipeline import make_augmenter, sample_weights


def test_weights_balance_classes_within_each_kind_and_shrink_large_families():
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    groups = np.array(["f", "f", "f", "f", "a", "b", "c", "d"])  # one rotated family of four
    rotated = np.array([True, True, True, True, False, False, False, False])
    w = sample_weights(y, groups, group_power=0.5, kinds=rotated)
    assert np.isclose(w.mean(), 1.0)
    for kind in (True, False):
        in_kind = rotated == kind
        assert np.isclose(w[in_kind & (y == 1)].sum(), w[in_kind & (y == 0)].sum())
    # Without class balance, a family image weighs size**-0.5 of a single image.
    plain = sample_weights(y, groups, group_power=0.5, class_balanced=False)
    assert np.isclose(plain[0] / plain[4], 4**-0.5)


def test_quarter_turns_give_every_orientation_and_change_nothing_else():
    import tensorflow as tf

    image = np.zeros((8, 8, 1), np.float32)
    image[0, 1:4] = 1.0  # an L shape: each of the eight orientations differs
    image[1:6, 1] = 0.5
    batch = np.repeat(image[None], 64, axis=0)
    augment = make_augmenter(0, rotation=0.0, zoom=0.0, flip="horizontal", gamma=False, noise=False, quarter_turns=True)
    out = augment(tf.constant(batch)).numpy()

    orientations = [np.rot90(image, k) for k in range(4)] + [np.rot90(image[:, ::-1], k) for k in range(4)]
    seen = set()
    for x in out:
        matches = [i for i, o in enumerate(orientations) if np.allclose(x, o)]
        assert len(matches) == 1  # a pure turn and/or mirror of the input, pixels unchanged
        seen.add(matches[0])
    assert len(seen) == 8
    plain = make_augmenter(0, rotation=0.0, zoom=0.0, flip="horizontal", gamma=False, noise=False)
    assert {i for x in plain(tf.constant(batch)).numpy() for i, o in enumerate(orientations) if np.allclose(x, o)} == {
        0,
        4,
    }
