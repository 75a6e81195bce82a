"""manage.py classify FILE... [--json] [--model VERSION]: no database or broker needed."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.imaging import ImageDecodeError, open_image
from inference.registry import ModelUnavailable


class Command(BaseCommand):
    help = "Classify X-ray files; one line (or JSON line) per file. Exit status 1 only if none could be read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument("--model", default=None, help="version folder name (default: the served one)")

    def handle(self, *args, **opts) -> None:
        from inference.predictor import get_predictor

        try:
            predictor = get_predictor(opts["model"])
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from exc
        max_pixels = getattr(settings, "FRACTURE_MAX_IMAGE_PIXELS", None)
        read = 0
        for path in opts["files"]:
            try:
                image = open_image(path, max_pixels=max_pixels)
            except ImageDecodeError as exc:
                self._emit(opts["json"], {"path": path, "error": str(exc)}, error=True)
                continue
            result = predictor.predict_images([image])[0]
            read += 1
            row = {
                "path": path,
                "label": result.label,
                "probability": round(result.probability, 6),
                "model_version": result.model_version,
            }
            self._emit(opts["json"], row)
        if read == 0:
            raise CommandError("no file could be read")

    def _emit(self, as_json: bool, row: dict, *, error: bool = False) -> None:
        if as_json:
            self.stdout.write(json.dumps(row))
        elif error:
            self.stdout.write(f"{row['path']}: error: {row['error']}")
        else:
            self.stdout.write(
                f"{row['path']}: {row['label']} (p={row['probability']:.3f}, model {row['model_version']})"
            )
