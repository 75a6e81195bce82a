"""Epoch selection and early stopping on validation AUROC (a stand-in model, no fitting)."""

from __future__ import annotations

import numpy as np
import pytest

from training.callbacks import ValidationAUROC

Y = np.array([0, 0, 0, 1, 1, 1])
GROUPS = np.array([f"g{i}" for i in range(6)])


class _Scripted:
    """Stands in for a Keras model: its "weights" are the epoch number, and each epoch's
    predictions rank the validation images as well as the script says."""

    def __init__(self, quality: list[float]):
        self.quality, self.epoch, self.stop_training = quality, 0, False

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.epoch = int(weights[0])


def _predict(model, _x):
    good = model.quality[model.epoch]  # share of positives ranked above every negative
    n_good = round(good * 3)
    return np.array([0.5, 0.5, 0.5] + [0.9] * n_good + [0.1] * (3 - n_good))


def _run(quality, *, patience, stop_from_epoch):
    model = _Scripted(quality)
    selector = ValidationAUROC(
        np.zeros((6, 1)), Y, GROUPS, predict=_predict, patience=patience, stop_from_epoch=stop_from_epoch
    )
    selector.set_model(model)
    for epoch in range(len(quality)):
        model.epoch = epoch
        selector.on_epoch_end(epoch, {"loss": 0.5})
        if model.stop_training:
            break
    selector.restore_best()
    return selector, model


@pytest.mark.parametrize(
    ("stop_from", "epochs_run", "best"),
    [(0, 4, 1), (8, 12, 10)],  # without the grace period a lucky first epoch ends the run
)
def test_early_stopping_waits_for_the_schedule_to_decay(stop_from, epochs_run, best):
    selector, model = _run([1 / 3] + [0.0] * 8 + [1.0, 2 / 3, 2 / 3], patience=3, stop_from_epoch=stop_from)
    assert len(selector.history) == epochs_run
    assert selector.best_epoch == best
    assert model.epoch == best - 1  # the best epoch's weights are restored


def test_stops_once_patience_runs_out_after_the_grace_period():
    selector, _ = _run([0.0, 1.0] + [0.0] * 10, patience=3, stop_from_epoch=4)
    assert selector.best_epoch == 2
    assert len(selector.history) == 7  # epochs 5, 6, 7 without improvement after epoch 4
