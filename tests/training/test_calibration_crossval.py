"""Calibration of scores and the grouped folds that every model decision rests on."""

from __future__ import annotations

import numpy as np
import pytest

from training import calibration
from training.crossval import fold_ids, oof_scores, pooled
from training.dataset import ImageFile, SplitData


def _scores(n: int = 4000, seed: int = 0, *, temperature: float = 3.0, shift: float = 0.0):
    """True probabilities q; reported scores are sigmoid(temperature * logit(q) + shift)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < q).astype(int)
    p = 1 / (1 + np.exp(-(temperature * calibration.logit(q) + shift)))
    return y, p, q


def test_temperature_scaling_undoes_overconfidence():
    y, p, _ = _scores(temperature=3.0)
    a, b = calibration.fit("temperature", y, p)
    assert b == 0.0 and a == pytest.approx(1 / 3, rel=0.15)
    before = calibration.expected_calibration_error(y, p)
    after = calibration.expected_calibration_error(y, calibration.apply(p, a, b))
    assert before > 0.1 and after < 0.03


def test_platt_is_chosen_when_the_scores_are_also_shifted():
    y, p, _ = _scores(temperature=1.0, shift=-1.5)
    folds = np.arange(len(y)) % 5
    chosen = calibration.choose(y, p, folds)
    assert chosen["method"] == "platt"
    assert chosen["cross_fitted_log_loss"]["platt"] < chosen["cross_fitted_log_loss"]["none"]
    assert chosen["b"] == pytest.approx(1.5, abs=0.3)


def test_cross_fitting_never_calibrates_a_fold_with_its_own_labels():
    y, p, _ = _scores(n=1000, temperature=2.0)
    folds = np.arange(len(y)) % 5
    crossed = calibration.cross_fitted("temperature", y, p, folds)
    for k in range(5):
        held = folds == k
        a, b = calibration.fit("temperature", y[~held], p[~held])
        np.testing.assert_allclose(crossed[held], calibration.apply(p[held], a, b))


def test_expected_calibration_error_is_zero_for_a_perfect_bin_and_large_for_a_wrong_one():
    y = np.array([0, 1] * 50)
    assert calibration.expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.0)
    assert calibration.expected_calibration_error(y, np.full(100, 0.95)) == pytest.approx(0.45)


def _pool(n_families: int = 60, seed: int = 0) -> SplitData:
    """Families of 1-12 images; a third are rotated families; both labels occur within a few."""
    rng = np.random.default_rng(seed)
    files = []
    for fam in range(n_families):
        label, rotated = int(rng.integers(0, 2)), bool(fam % 3 == 0)
        for i in range(int(rng.integers(1, 13))):
            lab = 1 - label if i == 5 else label  # a family that holds both labels, as in the manifest
            files.append(ImageFile(None, f"{fam}/{i}", "train", lab, f"{fam:04d}{i:04d}", f"fam{fam}", rotated))
    return SplitData("train", files, np.zeros((len(files), 1, 1, 1), np.uint8))


def test_folds_keep_whole_families_and_every_fold_sees_both_classes_of_both_kinds():
    pool = _pool()
    folds = fold_ids(pool, 5, seed=0)
    assert set(folds.tolist()) == set(range(5))
    by_family: dict[str, set[int]] = {}
    for f, k in zip(pool.files, folds, strict=True):
        by_family.setdefault(f.group, set()).add(int(k))
    assert all(len(ks) == 1 for ks in by_family.values())  # a family (both labels) in one fold
    for k in range(5):
        held = folds == k
        for rotated in (True, False):
            assert set(pool.y[held & (pool.rotated == rotated)].tolist()) == {0, 1}
    np.testing.assert_array_equal(folds, fold_ids(pool, 5, seed=0))  # reproducible


def test_pooled_splits_keep_order_and_scores_are_per_image_and_group():
    a, b = _pool(10, seed=1), _pool(10, seed=2)
    both = pooled({"train": a, "val": b})
    assert [f.rel for f in both.files] == [f.rel for f in a.files] + [f.rel for f in b.files]
    y = both.y
    s = oof_scores(y, y.astype(float), both.groups, both.rotated)
    assert s["auroc"] == 1.0 and s["score"] == 1.0
    s = oof_scores(y, 1.0 - y, both.groups, both.rotated)
    assert s["auroc"] == 0.0
