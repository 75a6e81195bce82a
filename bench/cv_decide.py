"""Apply the written selection rule (bench/results/cv-decision-rule.md) to out-of-fold predictions.

Reads bench/out/cv-<tag>.npz written by bench/cv_candidates.py, scores every candidate with
the identity view and with the mean over the eight orientations, the combination of ``small``
and a pretrained tag, and prints the table, the winner, its calibration evidence and its
operating points. Never reads the test split.

    .venv/bin/python bench/cv_decide.py [--pretrained TAG] [--extra TAG ...] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
MARGIN = 0.005
COST = ["small x1", "pretrained x1", "combination x1", "small x8", "pretrained x8", "combination x8"]


def load(tag: str) -> dict:
    with np.load(OUT / f"cv-{tag}.npz") as f:
        return {k: f[k] for k in f.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", default="small")
    parser.add_argument("--pretrained", default="pretrained", help="the pretrained variant that competes")
    parser.add_argument("--extra", nargs="*", default=[], help="further tags, reported only (variants, seed)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from training import calibration
    from training.crossval import oof_scores
    from training.metrics import at_threshold, choose_thresholds

    runs = {"small": load(args.small), "pretrained": load(args.pretrained)}
    ref = runs["small"]
    for name, run in runs.items():
        if not np.array_equal(run["sha"], ref["sha"]) or not np.array_equal(run["folds"], ref["folds"]):
            raise SystemExit(f"{name}: rows or folds differ from {args.small}'s")
    y, groups, rotated, folds = ref["y"], ref["groups"], ref["rotated"], ref["folds"]
    candidates = {}
    for views, pick in (("x1", lambda o: o[:, 0]), ("x8", lambda o: o.mean(1))):
        candidates[f"small {views}"] = pick(runs["small"]["oof"])
        candidates[f"pretrained {views}"] = pick(runs["pretrained"]["oof"])
        candidates[f"combination {views}"] = (candidates[f"small {views}"] + candidates[f"pretrained {views}"]) / 2
    table = {name: oof_scores(y, p, groups, rotated) for name, p in candidates.items()}
    for tag in args.extra:
        run = load(tag)
        done = run.get("done", np.ones(len(run["y"]), dtype=bool))
        folds_done = len(np.unique(run["folds"][done]))
        note = "" if done.all() else f", {folds_done} of {len(np.unique(run['folds']))} folds"
        for views, p in (("x1", run["oof"][:, 0]), ("x8", run["oof"].mean(1))):
            scores = oof_scores(run["y"][done], p[done], run["groups"][done], run["rotated"][done])
            table[f"{tag} {views} (reported only{note})"] = scores

    print(f"{'candidate':<34} {'S':>6} {'image':>6} {'group':>6} {'rotated':>8} {'other':>6}")
    for name, s in table.items():
        print(f"{name:<34} {s['score']:.4f} {s['auroc']:.3f} {s['group_auroc']:.3f} "
              f"{s['rotated_family_auroc']:>8.3f} {s['other_auroc']:.3f}")  # fmt: skip
    best = max(COST, key=lambda n: table[n]["score"])
    winner = next(n for n in COST if table[n]["score"] >= table[best]["score"] - MARGIN)
    print(f"\nhighest S: {best} ({table[best]['score']:.4f}); shipped by the rule: {winner}")

    p = candidates[winner]
    cal = calibration.choose(y, p, folds)
    p_cal = calibration.apply(p, cal["a"], cal["b"])
    crossfit = calibration.cross_fitted(cal["method"], y, p, folds)
    thresholds = choose_thresholds(y, p_cal, groups)
    result = {
        "rule": "bench/results/cv-decision-rule.md",
        "table": table,
        "highest": best,
        "winner": winner,
        "calibration": cal,
        "ece_raw": calibration.expected_calibration_error(y, p),
        "ece_cross_fitted": calibration.expected_calibration_error(y, crossfit),
        "ece_fitted": calibration.expected_calibration_error(y, p_cal),
        "thresholds": thresholds,
        "at_thresholds": {k: at_threshold(y, p_cal, t) for k, t in thresholds.items()},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
