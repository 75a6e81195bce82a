"""manage.py register_models: record every version folder in ml_models/ for the admin.

`retrain` registers the versions it writes when a database is reachable; versions that arrive
with the code (the shipped ones) or were trained without a database are registered here.
Idempotent: a version already registered is updated from its card.

Registered versions are candidates and serve nothing. On a fresh install (nothing activated
yet) the newest servable version is activated, with no user and the reason "initial activation
of the shipped version"; `make run` calls this command after `migrate`, and production runs it
once after each `migrate` (README, "Production").
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from inference.cards import read_card
from inference.registry import ModelUnavailable, models_root
from inference.services import model_version_activate_initial, model_version_register


class Command(BaseCommand):
    help = "Register every model version folder (with a readable card) in the database."

    def handle(self, *args, **opts) -> None:
        root = models_root()
        if not root.is_dir():
            self.stdout.write(f"no models folder at {root}")
            return
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        registered = 0
        for folder in folders:
            try:
                card = read_card(folder)
            except ModelUnavailable as exc:
                self.stderr.write(f"skipped {folder.name}: {exc}")
                continue
            if model_version_register(card=card) is not None:
                registered += 1
        self.stdout.write(f"{registered} model version(s) registered from {root}")
        if not registered:
            return
        activation = model_version_activate_initial()
        if activation is not None:
            self.stdout.write(f"activated {activation.version} ({activation.reason})")
