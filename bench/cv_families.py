"""What limits the out-of-fold score: the largest families, their label, size and mean score.

Per-image AUROC over train + val is dominated by a few rotated families of one source X-ray
each; this lists them with their mean out-of-fold probability and each family's share of the
positive-negative pairs it takes part in, so a low per-image figure can be traced to its sources.

    .venv/bin/python bench/cv_families.py --tag pretrained [--top 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "bench" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="pretrained")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--views", choices=["x1", "x8"], default="x1")
    args = parser.parse_args()
    with np.load(OUT / f"cv-{args.tag}.npz") as f:
        run = {k: f[k] for k in f.files}
    p = run["oof"][:, 0] if args.views == "x1" else run["oof"].mean(1)
    y, groups, rotated = run["y"], run["groups"], run["rotated"]
    pos, neg = p[y == 1], p[y == 0]
    print(f"{len(y)} images, {len(np.unique(groups))} groups; positives {len(pos)}, negatives {len(neg)}")
    names, counts = np.unique(groups, return_counts=True)
    order = np.argsort(-counts)[: args.top]
    print(f"{'group':<22} {'label':>5} {'n':>4} {'rotated':>7} {'mean p':>7} {'pairs won':>9} {'share of pairs':>14}")
    total_pairs = len(pos) * len(neg)
    for i in order:
        mask = groups == names[i]
        label = int(y[mask][0])
        other = neg if label == 1 else pos
        mine = p[mask]
        won = np.mean(mine[:, None] > other[None, :]) if label == 1 else np.mean(mine[:, None] < other[None, :])
        share = mask.sum() * len(other) / total_pairs
        print(f"{names[i]:<22} {label:>5} {mask.sum():>4} {bool(rotated[mask][0])!s:>7} {mine.mean():>7.3f} "
              f"{won:>9.3f} {share:>14.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
