"""manage.py retrain --data DIR: train a new model version (see training/trainer.py)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from training.recipes import RECIPES


class ProgressStream:
    """A command's output as a plain stream for progress bars: written as given (a bar redraws
    its line with carriage returns), unstyled, where ``OutputWrapper.write`` would end every
    write with a newline."""

    def __init__(self, out: OutputWrapper):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, style_func=str, ending="")

    def flush(self) -> None:
        self.out.flush()


class Command(BaseCommand):
    help = "Train a model on DIR/{train,val,test}/{fractured,not fractured} and write a new version folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, required=True, help="dataset folder (Kaggle layout)")
        parser.add_argument(
            "--arch",
            choices=sorted([*RECIPES, "pretrained"]),
            default="default",
            help="pretrained: EfficientNet-Lite0 fold ensemble chosen by grouped cross-validation",
        )
        parser.add_argument("--epochs", type=int, default=None, help="default: the architecture's recipe")
        parser.add_argument("--image-size", type=int, default=None, help="input side in pixels")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--members",
            type=int,
            default=None,
            help="networks trained with seeds SEED, SEED+1, ... and averaged into one model (default: the recipe's)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--allow-leakage", action="store_true", help="train even if splits share images")
        parser.add_argument(
            "--extra",
            type=Path,
            default=None,
            help="an export_dataset --reviewed-only folder: clinician-confirmed images added to training only",
        )
        parser.add_argument("--models-dir", type=Path, default=None, help="default: settings.FRACTURE_MODELS_DIR")

    def handle(self, *args, **opts) -> None:
        from inference.services import model_version_register
        from training.extra import ExtraDataError
        from training.pretrained import PretrainedWeightsError
        from training.trainer import LeakageError, TrainConfig, train_version

        if not opts["data"].is_dir():
            raise CommandError(f"--data {opts['data']} is not a folder")
        for name in ("epochs", "image_size", "batch_size", "members"):
            if opts[name] is not None and opts[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        cfg = TrainConfig(
            data=opts["data"],
            arch=opts["arch"],
            epochs=opts["epochs"],
            image_size=opts["image_size"],
            batch_size=opts["batch_size"],
            members=opts["members"],
            seed=opts["seed"],
            allow_leakage=opts["allow_leakage"],
            extra=opts["extra"],
            models_dir=opts["models_dir"],
            progress_file=ProgressStream(self.stderr),
        )
        try:
            if opts["arch"] == "pretrained":
                result = self._pretrained(cfg, opts)
            else:
                result = train_version(cfg, log=self.stdout.write)
        except (LeakageError, ExtraDataError, FileNotFoundError, ValueError, PretrainedWeightsError) as exc:
            raise CommandError(str(exc)) from exc
        registered = model_version_register(card=result.card)
        if registered is None:
            self.stdout.write("note: no database reachable; version not registered (register_models records it later)")
        else:
            self.stdout.write(f"registered {registered.version} as a candidate: activate it in the admin to serve it")
        self.stdout.write(self.style.SUCCESS(f"new model version: {result.version_dir}"))

    def _pretrained(self, cfg, opts):
        from dataclasses import replace

        from training.cv_trainer import train_pretrained_version
        from training.transfer import HeadRecipe

        for name in ("members", "batch_size"):
            if opts[name] is not None:
                raise CommandError(f"--{name.replace('_', '-')} does not apply to --arch pretrained")
        recipe = HeadRecipe() if opts["image_size"] is None else replace(HeadRecipe(), size=opts["image_size"])
        return train_pretrained_version(cfg, recipe, log=self.stdout.write)
