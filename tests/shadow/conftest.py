"""Fixtures for shadow runs: a registered candidate (the tiny model under another name), stored
predictions of another version on three radiographs, and a fake shadow queue."""

from __future__ import annotations

import datetime
import shutil

import pytest
from django.utils import timezone

from diagnosis.models import Radiograph, Review
from inference.cards import read_card, write_card
from inference.models import ModelVersion
from tests.factories import PredictionFactory, RadiographFactory, image_bytes

CANDIDATE = "cand-shadow-7"  # a name no clinical page or API answer may ever contain
STORED = "test"  # the version of PredictionFactory's finished predictions


@pytest.fixture(autouse=True)
def shadow_sent(request, monkeypatch) -> list[tuple]:
    """``(args, kwargs)`` of every shadow run handed to the broker (none reaches Redis unless the
    test starts a real worker)."""
    from shadow.tasks import run_shadow

    sent: list[tuple] = []
    if "start_worker" in request.fixturenames:
        return sent
    monkeypatch.setattr(run_shadow, "apply_async", lambda *args, **kwargs: sent.append((args, kwargs)))
    return sent


def register(version: str, card: dict) -> ModelVersion:
    return ModelVersion.objects.create(
        version=version, architecture="default", created_at=timezone.now(), card=card, metrics={}
    )


@pytest.fixture
def candidate(db, settings, tiny_model_root, tmp_path) -> ModelVersion:
    """The tiny model copied to a version folder named ``CANDIDATE`` and registered, beside a
    registered ``STORED`` version (balanced 0.5, high sensitivity 0.3)."""
    from inference.predictor import clear_cache

    root = tmp_path / "models"
    folder = root / CANDIDATE
    shutil.copytree(tiny_model_root / "tiny-test", folder)
    card = {**read_card(folder), "version": CANDIDATE, "thresholds": {"balanced": 0.5, "high_sensitivity": 0.2}}
    write_card(folder, card)
    settings.FRACTURE_MODELS_DIR = root
    settings.FRACTURE_MODEL = ""
    clear_cache()
    register(STORED, {"thresholds": {"balanced": 0.5, "high_sensitivity": 0.3}})
    yield register(CANDIDATE, card)
    clear_cache()


@pytest.fixture
def stored(team, clinician):
    """Three radiographs of ``team`` with a finished prediction (oldest first), reads on two of
    them, and a fourth, newest radiograph whose prediction is still queued."""
    now = timezone.now()
    predictions = []
    outcomes = [("fractured", "fracture"), ("not_fractured", "no_fracture"), ("fractured", None)]
    for i, (trait, read) in enumerate(outcomes):
        radiograph = RadiographFactory(case__team=team, case__patient__team=team, content=image_bytes(variant=i + 1))
        Radiograph.objects.filter(pk=radiograph.pk).update(uploaded_at=now - datetime.timedelta(minutes=10 - i))
        prediction = PredictionFactory(radiograph=radiograph, **{trait: True}, finished_at=now)
        if read:
            Review.objects.create(prediction=prediction, reader=clinician, read=read)
        predictions.append(prediction)
    PredictionFactory(radiograph__case__team=team, radiograph__case__patient__team=team)
    return predictions
