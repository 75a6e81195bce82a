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
