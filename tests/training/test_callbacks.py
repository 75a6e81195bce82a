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


def _bn_net():
    import keras

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.BatchNormalization(name="bn1")(inputs)
    x = keras.layers.Conv2D(3, 1, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_batch_norm_recalibration_sets_population_statistics_from_the_given_images():
    from training.callbacks import recalibrate_batch_norm

    rng = np.random.default_rng(0)
    x = (rng.normal(3.0, 2.0, (100, 4, 4, 2)) * [1.0, 0.5]).astype(np.float32)
    model = _bn_net()
    bn1 = model.get_layer("bn1")
    bn1.moving_mean.assign([50.0, -50.0])  # what augmented batches might have left behind
    bn1.moving_variance.assign([1e3, 1e-3])

    recalibrate_batch_norm(model, x, batch_size=32)  # batches of 32, 32, 32 and 4

    batches = [x[i : i + 32] for i in range(0, 100, 32)]
    np.testing.assert_allclose(
        bn1.moving_mean.numpy(), np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        bn1.moving_variance.numpy(), np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-4
    )
    # Later layers too: bn2's statistics are those of the conv outputs it now sees.
    assert abs(float(model.get_layer("bn2").moving_mean.numpy()[0])) > 0
    assert bn1.momentum == 0.99  # restored


def test_recalibration_draws_no_random_numbers_so_training_goes_on_unchanged():
    from training.callbacks import recalibrate_batch_norm

    model = _bn_net()
    dropout = model.get_layer("dropout")
    state = dropout.seed_generator.state.numpy().copy()
    recalibrate_batch_norm(model, np.ones((40, 4, 4, 2), np.float32), batch_size=16)
    np.testing.assert_array_equal(dropout.seed_generator.state.numpy(), state)
    assert dropout.rate == 0.5


def test_scored_and_kept_weights_carry_recalibrated_statistics_while_training_goes_on_from_its_own():
    rng = np.random.default_rng(1)
    x_cal = rng.normal(0.0, 1.0, (64, 4, 4, 2)).astype(np.float32)
    model = _bn_net()
    bn1 = model.get_layer("bn1")
    bn1.moving_mean.assign([7.0, 7.0])
    seen = []

    def predict(m, _x):
        seen.append(m.get_layer("bn1").moving_mean.numpy().copy())
        return np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])

    selector = ValidationAUROC(
        np.zeros((6, 4, 4, 2)), Y, GROUPS, predict=predict, patience=5, bn_calibration=x_cal
    )  # fmt: skip
    selector.set_model(model)
    selector.on_epoch_end(0, {"loss": 0.5})

    assert np.all(np.abs(seen[0]) < 0.5)  # scored with statistics of the clean images, not 7.0
    np.testing.assert_allclose(bn1.moving_mean.numpy(), [7.0, 7.0])  # training's own statistics restored
    selector.restore_best()
    np.testing.assert_allclose(bn1.moving_mean.numpy(), seen[0])  # the kept weights are the scored ones
