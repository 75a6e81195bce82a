"""One recipe trained with several seeds: how much of a score is the recipe and how much the seed.

Each seed is a full ``retrain`` run (training.trainer.train_version) into --models-dir (default
var/experiments/, never ml_models/). Printed per seed: validation AUROC per image / per group,
the selection score (their mean), the same under the four mirror/turn views (imaging.VIEWS),
the selected epoch and CPU seconds; then the mean over seeds. Test figures are NOT printed unless
--show-test is given: recipes are compared on validation, and test is read once a choice is fixed.

    .venv/bin/python bench/recipe_seeds.py --seeds 0 1 2 [--override '{"epochs": 12}'] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def view_scores(version_dir: Path, val) -> dict[str, list[float]]:
    import numpy as np

    from inference.cards import read_card
    from inference.imaging import VIEWS
    from inference.registry import model_file
    from training.dataset import as_float
    from training.forward import batched_probabilities, load_keras_model
    from training.metrics import auroc, group_scores

    card = read_card(version_dir)
    model = load_keras_model(model_file(version_dir, card))
    x = as_float(val.x)
    scores = {}
    for name, view in [("as stored", None), *VIEWS.items()]:
        p = batched_probabilities(model, x if view is None else np.ascontiguousarray(view(x)), list(card["tta"]))
        _, yg, pg = group_scores(val.y, p, val.groups)
        scores[name] = [auroc(val.y, p), auroc(yg, pg)]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "bone-fracture")
    parser.add_argument("--arch", default="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--override", default="{}", help="JSON merged over the recipe, e.g. '{\"epochs\": 12}'")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "experiments")
    parser.add_argument("--show-test", action="store_true", help="also print test figures (after a choice is fixed)")
    parser.add_argument("--json", type=Path, default=None, help="write the per-seed figures here")
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from training.cache import ImageCache
    from training.dataset import load_split
    from training.trainer import TrainConfig, train_version

    overrides = json.loads(args.override)
    rows = []
    for seed in args.seeds:
        cfg = TrainConfig(
            data=args.data, arch=args.arch, seed=seed, models_dir=args.models_dir, overrides=overrides,
            progress_file=open(os.devnull, "w"),  # noqa: SIM115 - lives as long as the run
        )  # fmt: skip
        result = train_version(cfg, log=lambda line: None if line.startswith("test") else print(line, flush=True))
        card = result.card
        val = load_split(args.data, "val", card["input"], ImageCache())
        views = view_scores(result.version_dir, val)
        member = card["training"]["members"][0]
        row = {
            "seed": seed,
            "version_dir": str(result.version_dir),
            "val": views["as stored"],
            "score": float(np.mean(views["as stored"])),
            "views": views,
            "views_score": float(np.mean([np.mean(v) for v in views.values()])),
            "selected_epoch": member["selected_epoch"],
            "cpu_seconds": card["training"]["cpu_seconds"],
            "wall_seconds": card["training"]["wall_seconds"],
        }
        if args.show_test:
            t = card["metrics"]["test"]
            row["test"] = [t["auroc"], t["group_auroc"]]
            row["test_high_sensitivity"] = t["per_image"]["at_threshold"]["high_sensitivity"]["sensitivity"]
        rows.append(row)

    print(f"recipe {args.arch} + {overrides or 'nothing'}; validation AUROC image / group (score = their mean)")
    for r in rows:
        test = f"  test {r['test'][0]:.3f} / {r['test'][1]:.3f}" if "test" in r else ""
        print(
            f"seed {r['seed']}: val {r['val'][0]:.3f} / {r['val'][1]:.3f} score {r['score']:.4f}  "
            f"five views {r['views_score']:.4f}  epoch {r['selected_epoch']}  cpu {r['cpu_seconds']:.0f} s{test}"
        )
    print(
        f"mean over {len(rows)} seeds: score {np.mean([r['score'] for r in rows]):.4f}, "
        f"five views {np.mean([r['views_score'] for r in rows]):.4f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"arch": args.arch, "override": overrides, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
