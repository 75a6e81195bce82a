from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training and model registry"

    def ready(self) -> None:
        from django.core import checks

        from training.checks import model_check

        checks.register(model_check, "fracture_model")
