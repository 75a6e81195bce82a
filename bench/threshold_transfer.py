"""Do high-sensitivity cuts chosen on validation hold for groups the cut has not seen?

Validation only (``test`` is never read): validation's groups are split at random into two
halves (per class), the cut is chosen on one half by ``training.metrics.choose_thresholds``,
with and without group weighting, and sensitivity and specificity are measured per image on the
other half. Repeated over many random splits; prints mean, 10th percentile and how often the
held-out sensitivity reached 0.90.

    .venv/bin/python bench/threshold_transfer.py [--model VERSION ...] [--rounds 300]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def transfer(y, p, groups, *, rounds: int, seed: int = 0) -> dict[str, dict[str, float]]:
    import numpy as np

    from training.metrics import choose_thresholds

    keys = np.array([f"{g}|{label}" for g, label in zip(groups, y, strict=True)])
    names = np.unique(keys)
    labels = np.array([int(n.rsplit("|", 1)[1]) for n in names])
    rng = np.random.default_rng(seed)
    results: dict[str, dict[str, list]] = {
        "per image": {"sens": [], "spec": []},
        "groups weighted": {"sens": [], "spec": []},
    }
    for _ in range(rounds):
        half = []
        for label in (0, 1):
            idx = rng.permutation(np.flatnonzero(labels == label))
            half.extend(names[idx[: len(idx) // 2]])
        chosen = np.isin(keys, half)
        held = ~chosen
        for rule, grouped in (("per image", None), ("groups weighted", groups[chosen])):
            cut = choose_thresholds(y[chosen], p[chosen], grouped)["high_sensitivity"]
            results[rule]["sens"].append(np.mean(p[held & (y == 1)] >= cut))
            results[rule]["spec"].append(np.mean(p[held & (y == 0)] < cut))
    return {
        rule: {
            "sens_mean": float(np.mean(r["sens"])),
            "sens_p10": float(np.percentile(r["sens"], 10)),
            "share_sens_ge_0.90": float(np.mean(np.array(r["sens"]) >= 0.90)),
            "spec_mean": float(np.mean(r["spec"])),
        }
        for rule, r in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", nargs="*", default=[None], help="versions or version folders (default: the served one)"
    )
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "bone-fracture"))
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from inference.cards import read_card
    from inference.registry import model_file, resolve_version_dir
    from training.cache import ImageCache
    from training.dataset import as_float, load_split
    from training.forward import batched_probabilities, load_keras_model

    print(f"high-sensitivity cut chosen on half of val's groups, scored on the other half ({args.rounds} splits)")
    print(f"{'version':<28}{'rule':<17}{'sens mean':>10}{'sens p10':>10}{'P(>=0.90)':>11}{'spec mean':>11}")
    for version in args.model:
        version_dir = Path(version) if version and Path(version).is_dir() else resolve_version_dir(version)
        card = read_card(version_dir)
        val = load_split(Path(args.data), "val", card["input"], ImageCache())
        model = load_keras_model(model_file(version_dir, card))
        p = batched_probabilities(model, as_float(val.x), list(card.get("tta", [])))
        for rule, r in transfer(val.y.astype(int), p, val.groups, rounds=args.rounds).items():
            print(
                f"{version_dir.name:<28}{rule:<17}{r['sens_mean']:>10.3f}{r['sens_p10']:>10.3f}"
                f"{r['share_sens_ge_0.90']:>11.2f}{r['spec_mean']:>11.3f}"
            )


if __name__ == "__main__":
    main()
