"""Comparison figures on hand-made rows: AUROC, Wilson intervals, flips per point and team."""

from __future__ import annotations

import pytest

from shadow.comparison import auroc, compare


def test_auroc_is_the_mann_whitney_statistic():
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.9], [1, 1, 0]) == 0.0


def test_auroc_counts_ties_one_half():
    assert auroc([0.5, 0.5], [1, 0]) == 0.5
    # positive 0.7 beats both negatives; positive 0.3 ties one (0.3) and loses one (0.6)
    assert auroc([0.7, 0.3, 0.3, 0.6], [1, 1, 0, 0]) == pytest.approx((2 + 0.5) / 4)


def test_auroc_needs_both_classes():
    assert auroc([0.2, 0.9], [1, 1]) is None
    assert auroc([], []) is None


def _row(p, labels, read, *, ref_p, ref_version="old", team="Emergency", ref_threshold=0.5):
    return {
        "probability": p,
        "labels": labels,
        "read": read,
        "team": team,
        "reference_probability": ref_p,
        "reference_threshold": ref_threshold,
        "reference_version": ref_version,
    }


F, N = "fractured", "not_fractured"
CANDIDATE = {"balanced": 0.5, "high_sensitivity": 0.2}
CARDS = {"old": {"balanced": 0.6, "high_sensitivity": 0.3}}


@pytest.fixture
def rows():
    both = lambda p: {"balanced": F if p >= 0.5 else N, "high_sensitivity": F if p >= 0.2 else N}  # noqa: E731
    return [
        _row(0.9, both(0.9), "fracture", ref_p=0.7),  # both right at both points
        _row(0.55, both(0.55), "fracture", ref_p=0.4),  # stored misses at balanced (0.4 < 0.6): flip to F
        _row(0.3, both(0.3), "no_fracture", ref_p=0.65, team="Orthopaedics"),  # balanced: flip to N
        _row(0.1, both(0.1), "no_fracture", ref_p=0.35),  # high sensitivity: stored F (0.35 >= 0.3) -> N
        _row(0.25, both(0.25), "uncertain", ref_p=0.1),  # left out of reads; high sens flip to F
        _row(0.05, both(0.05), None, ref_p=0.05, ref_version="unregistered", ref_threshold=0.04),
    ]


def test_counts_of_reads_and_versions(rows):
    result = compare(rows, candidate_thresholds=CANDIDATE, reference_cards=CARDS)
    assert result.images == 6
    assert (result.with_read, result.positives, result.negatives) == (4, 2, 2)
    assert (result.uncertain, result.unread) == (1, 1)
    assert result.reference_versions == [("old", 5), ("unregistered", 1)]


def test_auroc_of_each_against_reads(rows):
    result = compare(rows, candidate_thresholds=CANDIDATE, reference_cards=CARDS)
    assert result.candidate_auroc == 1.0  # 0.9, 0.55 above 0.3, 0.1
    assert result.reference_auroc == pytest.approx(0.75)  # 0.7 beats 0.65 and 0.35; 0.4 beats 0.35 only


def test_sensitivity_specificity_and_flips_per_point(rows):
    result = compare(rows, candidate_thresholds=CANDIDATE, reference_cards=CARDS)
    balanced, high = result.points
    assert balanced.point == "balanced" and high.point == "high_sensitivity"
    assert (balanced.candidate.sensitivity.hits, balanced.candidate.sensitivity.total) == (2, 2)
    assert (balanced.reference.sensitivity.hits, balanced.reference.sensitivity.total) == (1, 2)
    assert (balanced.reference.specificity.hits, balanced.reference.specificity.total) == (1, 2)
    assert balanced.candidate.threshold == 0.5 and balanced.reference.threshold is None  # 0.6 and 0.04
    # balanced: rows 2 (N->F) and 3 (F->N); the unregistered row uses its stored 0.04: F, candidate N
    assert (balanced.flips, balanced.to_fractured, balanced.to_not_fractured) == (3, 1, 2)
    assert dict(balanced.by_team) == {"Emergency": 2, "Orthopaedics": 1}
    # high sensitivity: row 4 (F->N), row 5 (N->F), unregistered row (F->N)
    assert (high.flips, high.to_fractured, high.to_not_fractured) == (3, 1, 2)
    assert result.team_flips() == [("Emergency", [2, 3]), ("Orthopaedics", [1, 0])]


def test_wilson_interval_of_a_rate():
    from diagnosis.agreement import Rate

    low, high = Rate(8, 10).interval
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_one_stored_threshold_is_shown(rows):
    result = compare(rows[:5], candidate_thresholds=CANDIDATE, reference_cards=CARDS)
    assert [p.reference.threshold for p in result.points] == [0.6, 0.3]


def test_points_missing_from_the_candidate_card_are_left_out(rows):
    result = compare(rows, candidate_thresholds={"balanced": 0.5}, reference_cards=CARDS)
    assert [p.point for p in result.points] == ["balanced"]
