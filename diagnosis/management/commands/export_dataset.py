"""`manage.py export_dataset --out DIR [--reviewed-only] [--team NAME]`: a de-identified dataset."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from diagnosis.services.export import ExportRefused, dataset_export


class Command(BaseCommand):
    help = (
        "Write de-identified radiographs in the dataset layout (fractured/, not fractured/) with "
        "manifest.csv: DICOM by the PS3.15 basic profile, JPEG/PNG without metadata."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="a new (or empty) folder")
        parser.add_argument(
            "--reviewed-only", action="store_true", help="only images a clinician has read, labelled by that read"
        )
        parser.add_argument("--team", help="only this care team's cases (default: all)")

    def handle(self, *args: object, out: Path, reviewed_only: bool, team: str | None, **options: object) -> None:
        group = None
        if team:
            group = Group.objects.filter(name=team).first()
            if group is None:
                raise CommandError(f"no care team named {team!r}")

        def progress(done: int, total: int) -> None:
            if done == total or done % 100 == 0:
                self.stdout.write(f"  {done}/{total}")

        try:
            result = dataset_export(out=out, reviewed_only=reviewed_only, team=group, progress=progress)
        except ExportRefused as exc:
            raise CommandError(str(exc)) from exc
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(result.skipped.items())) or "none"
        self.stdout.write(f"exported {result.written} images to {result.out} (skipped: {skipped})")
