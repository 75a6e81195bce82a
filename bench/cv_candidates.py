"""Out-of-fold predictions of one candidate model under grouped 5-fold CV over train + val.

Candidates (the rule that chooses among them: bench/results/cv-decision-rule.md):
- ``pretrained``: EfficientNet-Lite0 (ImageNet weights) with blocks 0..12 frozen and the rest
  fine-tuned on cached trunk outputs (training.transfer.HeadRecipe);
- ``small``: the project's compact CNN with its default recipe (fixed schedule, EMA weights of
  the last epoch: no epoch is picked on the held-out fold);
- ``seed``: the prototype's network and recipe, for the baseline.

Every candidate is scored on each orientation of every held-out image (imaging.DIHEDRAL), so
bench/cv_decide.py can judge with and without test-time views. The test split is never read.

    .venv/bin/python bench/cv_candidates.py --candidate pretrained [--override '{"epochs": 3}'] [--tag NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
OUT = ROOT / "bench" / "out"


def _small_fold(arch, recipe, spec, train, held_out, seed):
    """One network of the given recipe, trained on ``train`` for the recipe's epochs."""
    import numpy as np

    from inference.imaging import DIHEDRAL, view
    from training.forward import batched_probabilities
    from training.trainer import fit_fixed_schedule

    model = fit_fixed_schedule(arch, recipe, spec, train, seed=seed)
    x = held_out.x.astype(np.float32) / 255.0
    return np.stack([batched_probabilities(model, np.ascontiguousarray(view(x, v)), []) for v in DIHEDRAL], axis=1)


def _save(tag, oof, pool, folds, done) -> None:
    import numpy as np

    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(
        OUT / f"cv-{tag}.npz", oof=oof, y=pool.y, groups=pool.groups, rotated=pool.rotated, folds=folds,
        sha=np.array([f.sha256 for f in pool.files]), done=done,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "bone-fracture")
    parser.add_argument("--candidate", choices=["pretrained", "small", "seed"], required=True)
    parser.add_argument("--override", default="{}", help="JSON merged over the candidate's recipe")
    parser.add_argument("--tag", default=None, help="name of the output (default: the candidate)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-seed", type=int, default=0)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from training.cache import ImageCache
    from training.crossval import fold_ids, oof_scores, pooled, subset
    from training.dataset import load_splits
    from training.networks import input_spec
    from training.recipes import RECIPES

    override = json.loads(args.override)
    tag = args.tag or args.candidate
    cache = ImageCache()
    started = time.monotonic()
    if args.candidate == "pretrained":
        from training.transfer import HeadRecipe

        recipe = replace(HeadRecipe(), **override)
        spec = {"size": recipe.size, "color": "grey", "resize": "letterbox"}
    else:
        recipe = RECIPES["default" if args.candidate == "small" else "seed"].with_overrides(override)
        spec = input_spec("default" if args.candidate == "small" else "seed")
    data = load_splits(args.data, ("train", "val"), spec, cache)
    pool = pooled(data)
    folds = fold_ids(pool, args.folds, args.fold_seed)
    oof = np.zeros((len(pool.files), 8))
    done = np.zeros(len(pool.files), dtype=bool)
    if args.candidate == "pretrained":
        from training.features import trunk_features
        from training.pipeline import sample_weights
        from training.transfer import fit_head, head_view_probabilities

        feats = trunk_features(
            [f.sha256 for f in pool.files], pool.x, size=recipe.size, split=recipe.split, cache_root=cache.root
        )
    for k in range(args.folds):
        t = time.monotonic()
        train, held = subset(pool, np.flatnonzero(folds != k)), subset(pool, np.flatnonzero(folds == k))
        if args.candidate == "pretrained":
            w = sample_weights(train.y, train.groups, group_power=recipe.group_weight_power, kinds=train.rotated)
            head = fit_head(feats[train.rows], train.y, w, recipe, seed=k)
            oof[held.rows] = head_view_probabilities(head, feats[held.rows])
        else:
            arch = "default" if args.candidate == "small" else "seed"
            oof[held.rows] = _small_fold(arch, recipe, spec, train, held, seed=k)
        done[held.rows] = True
        _save(tag, oof, pool, folds, done)  # after every fold: a run stopped early still reports its folds
        s = oof_scores(held.y, oof[held.rows, 0], held.groups, held.rotated)
        print(f"fold {k}: {len(train.y)} train / {len(held.y)} held out; AUROC image {s['auroc']:.3f} "
              f"group {s['group_auroc']:.3f} ({time.monotonic() - t:.0f}s)", flush=True)  # fmt: skip
    s, s_tta = (
        oof_scores(pool.y, oof[:, 0], pool.groups, pool.rotated),
        oof_scores(pool.y, oof.mean(1), pool.groups, pool.rotated),
    )
    summary = {
        "candidate": args.candidate,
        "tag": tag,
        "recipe": asdict(recipe),
        "folds": args.folds,
        "seconds": round(time.monotonic() - started, 1),
        "oof": s,
        "oof_8_views": s_tta,
    }
    print(json.dumps(summary, indent=1, default=str))
    (OUT / f"cv-{tag}.json").write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
