"""Celery application. Workers import TensorFlow lazily, inside the task, after fork."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")

app = Celery("fracture_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
