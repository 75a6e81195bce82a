"""Keras callbacks: validation AUROC with best-weight restore, and a progress bar with ETA."""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from training.metrics import auroc, group_scores


class WeightEMA(keras.callbacks.Callback):
    """Exponential moving average of all weights, updated every batch.

    Validation AUROC of single epochs swings by 0.1 or more on this data (a few rotated
    families decide it); the averaged weights are smoother and generalise better.
    """

    def __init__(self, momentum: float = 0.99):
        super().__init__()
        self.momentum = momentum
        self.average: list[np.ndarray] | None = None

    def on_train_batch_end(self, batch, logs=None):
        current = self.model.get_weights()
        if self.average is None:
            self.average = [w.astype(np.float32).copy() for w in current]
            return
        m = self.momentum
        for avg, w in zip(self.average, current, strict=True):
            avg *= m
            avg += (1 - m) * w


class ValidationAUROC(keras.callbacks.Callback):
    """Scores validation per image and per group after each epoch; keeps the best weights.

    Selection uses the mean of the image and group AUROC: per image alone lets one big rotated
    family dominate, per group alone is noisy with ~40 validation groups.
    """

    def __init__(
        self,
        x_val,
        y_val,
        groups_val,
        *,
        predict: Callable,
        patience: int,
        stop_from_epoch: int = 0,
        ema: WeightEMA | None = None,
        train_probe: tuple | None = None,
    ):
        super().__init__()
        self.ema = ema
        # A fixed sample of un-augmented training images: train vs val AUROC shows memorisation.
        self.train_probe = train_probe
        self.x_val, self.y_val, self.groups_val = x_val, y_val, groups_val
        self.predict = predict
        self.patience = patience
        # Validation AUROC is low and erratic while the learning rate is high and often peaks by
        # chance in the first epochs; stopping then would end a run before its schedule has
        # decayed (it did: one seed stopped at epoch 11 of 24 with epoch 1 "best").
        self.stop_from_epoch = stop_from_epoch
        self.best_score, self.best_epoch, self.best_weights = -np.inf, -1, None
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        use_ema = self.ema is not None and self.ema.average is not None
        # Training goes on from the live weights (statistics included) whatever is scored.
        live = self.model.get_weights() if use_ema else None
        if use_ema:
            self.model.set_weights(self.ema.average)
        p = self.predict(self.model, self.x_val)
        image = auroc(self.y_val, p) or 0.0
        _, yg, pg = group_scores(self.y_val, p, self.groups_val)
        group = auroc(yg, pg) or 0.0
        score = (image + group) / 2
        row = {"epoch": epoch + 1, "loss": float((logs or {}).get("loss", np.nan))}
        row.update({"val_auroc": image, "val_group_auroc": group, "val_score": score})
        if self.train_probe is not None:
            row["train_auroc"] = auroc(self.train_probe[1], self.predict(self.model, self.train_probe[0])) or 0.0
        self.history.append(row)
        if logs is not None:
            logs.update({k: v for k, v in row.items() if k.endswith("auroc")})
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch + 1
            self.best_weights = self.model.get_weights()
        if live is not None:
            self.model.set_weights(live)
        waited = epoch + 1 - max(self.best_epoch, self.stop_from_epoch)
        if score < self.best_score and waited >= self.patience:
            self.model.stop_training = True

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ProgressBar(keras.callbacks.Callback):
    """One bar over all training steps (of every member) with an ETA; the latest validation
    scores as postfix. Used across several ``fit`` calls; ``close()`` ends it."""

    def __init__(self, total_steps: int, *, file=None):
        super().__init__()
        self.total_steps, self.file = total_steps, file
        self.bar = None
        self.label = ""  # e.g. "member 2/3, " in front of each epoch line
        self.started = time.monotonic()

    def on_train_begin(self, logs=None):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total_steps, unit="batch", file=self.file, dynamic_ncols=False, ncols=110)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(
            epoch=epoch + 1, loss=f"{logs.get('loss', float('nan')):.3f}", val_auroc=f"{logs.get('val_auroc', 0):.3f}"
        )
        self.bar.write(
            f"{self.label}epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f} "
            f"train AUROC {logs.get('train_auroc', float('nan')):.3f} "
            f"val AUROC image {logs.get('val_auroc', 0):.3f} group {logs.get('val_group_auroc', 0):.3f} "
            f"({time.monotonic() - self.started:.0f}s)"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
