"""Thresholds from validation and the grouped metrics."""

from __future__ import annotations

import numpy as np

from training.metrics import at_threshold, bootstrap_ci, choose_thresholds, group_scores

Y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])
P = np.array([0.05, 0.10, 0.20, 0.30, 0.35, 0.40, 0.60, 0.70, 0.80, 0.90], dtype=np.float32)


def test_cuts_lie_between_scores_and_survive_a_few_ulps():
    t = choose_thresholds(Y, P)
    assert not np.isin(np.float32(t["balanced"]), P)  # never exactly on a validation score
    assert 0.40 < t["balanced"] < 0.60  # Youden J 0.8 (ties with admitting 0.35; the higher cut wins)
    before = at_threshold(Y, P, t["balanced"])
    nudged = np.nextafter(P, np.float32(0), dtype=np.float32)  # what another runtime may compute
    assert at_threshold(Y, nudged, t["balanced"])["confusion"] == before["confusion"]
    assert before["sensitivity"] == 0.8 and before["specificity"] == 1.0


def test_high_sensitivity_cut_keeps_95_percent_of_positives_and_is_never_above_balanced():
    y = np.array([1] * 20 + [0] * 20)
    p = np.concatenate([np.linspace(0.3, 0.99, 20), np.linspace(0.0, 0.6, 20)])
    t = choose_thresholds(y, p)
    assert at_threshold(y, p, t["high_sensitivity"])["sensitivity"] >= 0.95
    assert t["high_sensitivity"] <= t["balanced"]


def test_high_sensitivity_cut_counts_every_positive_group_not_only_the_largest_family():
    # One fractured family of 100 rotated copies scores high; four single fractured images score
    # low. Per image, a cut above the four still keeps 100/104 = 0.96 of the positives.
    y = np.array([1] * 104 + [0] * 50)
    p = np.concatenate([np.linspace(0.80, 0.99, 100), [0.30, 0.40, 0.50, 0.60], np.linspace(0.0, 0.7, 50)])
    groups = np.array(["family"] * 100 + ["a", "b", "c", "d"] + [f"n{i}" for i in range(50)])

    per_image = choose_thresholds(y, p)["high_sensitivity"]
    assert 0.60 < per_image < 0.80  # misses all four single images
    t = choose_thresholds(y, p, groups)["high_sensitivity"]
    assert 0.29 < t < 0.30  # with each group weighted equally, all five groups must be kept
    assert at_threshold(y, p, t)["sensitivity"] == 1.0
    assert not np.isin(t, p)


def test_groups_score_once_with_their_mean_and_bootstrap_resamples_whole_groups():
    y = np.array([1, 1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.7, 0.8, 0.2, 0.4, 0.6, 0.1])
    groups = np.array(["a", "a", "a", "b", "b", "c", "d"])
    names, yg, pg = group_scores(y, p, groups)
    assert list(names) == ["a", "b", "c", "d"]
    assert list(yg) == [1, 0, 1, 0]
    np.testing.assert_allclose(pg, [0.8, 0.3, 0.6, 0.1])
    low, high = bootstrap_ci(y, p, groups, rounds=200)
    assert 0.0 <= low <= high <= 1.0
