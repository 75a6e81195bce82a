"""manage.py export_serving [--model VERSION] [--with-cam [--out DIR]]: LiteRT serving files.

Without ``--with-cam``: versions trained before serving files existed carry only their Keras
file; this derives ``model.tflite`` from it (same weights, same graph) and names it in the card.
The Keras file and every metric in the card stay as they were.

With ``--with-cam``: a NEW version ``<VERSION>-cam`` (in the models folder, or ``--out``) whose
serving file also outputs the class activation map that the worker turns into the heat-map
overlay; the source version is left untouched (``training.cam_version``).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.cards import read_card, write_card
from inference.registry import ModelUnavailable, model_file, resolve_version_dir


class Command(BaseCommand):
    help = "Export a model version's LiteRT serving file (model.tflite), or derive a version with a heat map."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", default=None, help="version folder name (default: the served one)")
        parser.add_argument(
            "--with-cam",
            action="store_true",
            help="write a new version <VERSION>-cam whose serving file also outputs the class activation map",
        )
        parser.add_argument(
            "--out", type=Path, default=None, help="with --with-cam: folder to write the new version into"
        )

    def handle(self, *args, **opts) -> None:
        if opts["with_cam"]:
            self._with_cam(opts["model"], opts["out"])
            return
        if opts["out"]:
            raise CommandError("--out only applies with --with-cam")
        from training.forward import load_keras_model
        from training.serving import SERVING_NAME, export_serving

        try:
            folder = resolve_version_dir(opts["model"])
            card = read_card(folder)
            model = load_keras_model(model_file(folder, card))
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from exc
        entries = export_serving(model, folder / SERVING_NAME)
        write_card(folder, {**card, **entries})
        self.stdout.write(f"{folder.name}: wrote {SERVING_NAME} ({entries['serving_file_bytes'] / 1024:.0f} KiB)")

    def _with_cam(self, version: str | None, out: Path | None) -> None:
        from training.cam import CamUnsupported
        from training.cam_version import derive_cam_version

        try:
            folder = derive_cam_version(version=version, out=out)
        except (ModelUnavailable, CamUnsupported, FileExistsError) as exc:
            raise CommandError(str(exc)) from exc
        card = read_card(folder)
        grid = "x".join(str(n) for n in card["cam"]["grid"])
        self.stdout.write(
            f"{folder.name}: wrote {folder} ({card['serving_file_bytes'] / 1024:.0f} KiB, {grid} heat map); "
            "it serves nothing until activated"
        )
