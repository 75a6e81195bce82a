"""manage.py export_serving [--model VERSION]: add the LiteRT serving file to a trained version.

Versions trained before serving files existed carry only their Keras file; this derives
``model.tflite`` from it (same weights, same graph) and names it in the card. The Keras file and
every metric in the card stay as they were.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.cards import read_card, write_card
from inference.registry import ModelUnavailable, model_file, resolve_version_dir


class Command(BaseCommand):
    help = "Export a model version's LiteRT serving file (model.tflite) and record it in its card."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", default=None, help="version folder name (default: the served one)")

    def handle(self, *args, **opts) -> None:
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
