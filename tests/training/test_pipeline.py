"""Training inputs: sample weights and augmentation."""

from __future__ import annotations

import numpy as np

from training.pipeline import sample_weights


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
