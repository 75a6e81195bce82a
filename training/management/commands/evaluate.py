"""manage.py evaluate --data DIR [--split test] [--model VERSION]: metrics and plots of a version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.imaging import VIEWS
from inference.registry import ModelUnavailable


class Command(BaseCommand):
    help = "Score a model version on one split of a dataset folder (AUROC with CI, thresholds, plots)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, required=True)
        parser.add_argument("--split", choices=["train", "val", "test"], default="test")
        parser.add_argument("--model", default=None, help="version folder name (default: the served one)")
        parser.add_argument("--out", type=Path, default=None, help="plots and metrics.json (default: var/evaluations/)")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        parser.add_argument(
            "--transform",
            choices=["none", *VIEWS],
            default="none",
            help="score every image mirrored or turned (a robustness check: the diagnosis does not change)",
        )

    def handle(self, *args, **opts) -> None:
        from training.evaluation import evaluate_version
        from training.metrics import summary_line

        if not (opts["data"] / opts["split"]).is_dir():
            raise CommandError(f"{opts['data'] / opts['split']} is not a folder")
        out = opts["out"]
        try:
            if out is None:
                from inference.registry import resolve_version_dir

                name = resolve_version_dir(opts["model"]).name
                stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
                view = "" if opts["transform"] == "none" else f"-{opts['transform']}"
                out = Path(settings.DATA_DIR) / "evaluations" / f"{name}-{opts['split']}{view}-{stamp}"
            result = evaluate_version(
                data=opts["data"],
                split=opts["split"],
                version=opts["model"],
                out_dir=out,
                log=self.stderr.write,
                transform=opts["transform"],
            )
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from exc
        m = result["metrics"]
        if opts["json"]:
            self.stdout.write(json.dumps({k: v for k, v in result.items() if k != "predictions"}))
            return
        view = "" if opts["transform"] == "none" else f" ({opts['transform']})"
        self.stdout.write(f"{result['version']} on {opts['split']}{view}: {summary_line(m)}")
        for scope in ("per_image", "per_group"):
            for name, t in m[scope]["at_threshold"].items():
                c = t["confusion"]
                self.stdout.write(
                    f"  {scope} {name} (t={t['threshold']:.3f}): "
                    f"sens {t['sensitivity']:.3f} spec {t['specificity']:.3f} "
                    f"acc {t['accuracy']:.3f} F1 {t['f1']:.3f}  TN {c['tn']} FP {c['fp']} FN {c['fn']} TP {c['tp']}"
                )
        for name, s in m["subsets"].items():
            auc = "n/a" if s["auroc"] is None else f"{s['auroc']:.3f}"
            self.stdout.write(f"  {name}: {s['n']} images, AUROC {auc}")
        self.stdout.write(f"plots and metrics.json in {out}")
