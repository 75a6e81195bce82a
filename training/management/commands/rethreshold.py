"""manage.py rethreshold --data DIR [--model VERSION]: a version's thresholds re-chosen on validation."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.registry import ModelUnavailable


class Command(BaseCommand):
    help = (
        "Re-choose a version's thresholds on its validation split by the current rule and write them, with the same "
        "model files, as a new version (the source version is left as it is)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, required=True, help="the dataset folder the version was trained on")
        parser.add_argument("--model", default=None, help="version folder name (default: the served one)")

    def handle(self, *args, **opts) -> None:
        from inference.services import model_version_register
        from training.rethreshold import DataMismatchError, rethreshold_version

        if not (opts["data"] / "val").is_dir():
            raise CommandError(f"{opts['data'] / 'val'} is not a folder")
        try:
            result = rethreshold_version(data=opts["data"], version=opts["model"], log=self.stdout.write)
        except (ModelUnavailable, DataMismatchError, FileNotFoundError) as exc:  # a split folder missing, say
            raise CommandError(str(exc)) from exc
        if model_version_register(card=result.card) is None:
            self.stdout.write("note: no database reachable; version not registered (register_models records it later)")
        self.stdout.write(f"new model version: {result.version_dir}")
