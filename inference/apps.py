from __future__ import annotations

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Model versions and serving"

    def ready(self) -> None:
        from django.core import checks

        from inference.checks import model_check

        checks.register(model_check, "fracture_model")
