"""Training recipes per architecture: everything that decides a run besides the data and seed.

A ``Recipe`` holds only the settings the shipped recipes use. Knobs whose experiments lost
(precise batch norm, quarter turns, gamma and noise, per-image standardisation, test-time views)
were removed; their figures are in ``training/EXPERIMENTS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

Flip = Literal["horizontal", "horizontal_and_vertical"]


@dataclass(frozen=True)
class Augment:
    rotation: float  # fraction of a full turn, either way
    zoom: float  # 0 = no zoom and no shift
    flip: Flip


@dataclass(frozen=True)
class Network:
    """Settings of ``networks.build_default``."""

    widths: tuple[int, ...]
    dropout: float


@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    optimizer: Literal["adam", "adamw"]
    learning_rate: float
    weight_decay: float
    warmup_epochs: int
    schedule: Literal["constant", "cosine"]
    label_smoothing: float
    group_weight_power: float
    class_balanced: bool
    kind_balanced: bool  # classes balanced within rotated copies and within other images
    ema_momentum: float  # 0 = no weight average
    augment: Augment
    patience: int
    early_stopping_from: float  # of the epochs: no stopping before the schedule has decayed
    network: Network | None  # None: the architecture has no settings (the prototype's network)
    members: int = 1  # networks trained with seeds S, S+1, ... and averaged into one model

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "members"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"recipe {name} must be at least 1, not {getattr(self, name)}")
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose adam or adamw")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown schedule {self.schedule!r}; choose constant or cosine")
        if self.augment.flip not in ("horizontal", "horizontal_and_vertical"):
            raise ValueError(f"unknown flip {self.augment.flip!r}")

    def with_overrides(self, overrides: Mapping[str, object]) -> Recipe:
        """A copy with some settings changed (nested blocks by a mapping); unknown names are errors."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown recipe settings: {', '.join(unknown)}")
        changes = dict(overrides)
        for name, block in (("augment", Augment), ("network", Network)):
            value = changes.get(name)
            if isinstance(value, Mapping):
                base = asdict(getattr(self, name)) if getattr(self, name) is not None else {}
                merged = {**base, **value}
                if "widths" in merged:
                    merged["widths"] = tuple(merged["widths"])
                changes[name] = block(**merged)
        return replace(self, **changes)

    def card(self) -> dict:
        """The recipe as the model card records it."""
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "default": Recipe(
        epochs=24,
        batch_size=32,
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-4,
        warmup_epochs=1,
        schedule="cosine",
        label_smoothing=0.05,
        group_weight_power=0.5,
        class_balanced=True,
        kind_balanced=True,
        ema_momentum=0.99,
        augment=Augment(rotation=0.1, zoom=0.1, flip="horizontal_and_vertical"),
        patience=6,
        early_stopping_from=0.5,
        network=Network(widths=(32, 48, 96, 160, 224), dropout=0.3),
    ),
    # The prototype's recipe: Adam at Keras defaults, plain BCE, rotation and flip, 30 epochs,
    # no class or group weights. It gets the same best-epoch selection on validation AUROC as
    # the default, which can only help it.
    "seed": Recipe(
        epochs=30,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        warmup_epochs=0,
        schedule="constant",
        label_smoothing=0.0,
        group_weight_power=0.0,
        class_balanced=False,
        kind_balanced=False,
        ema_momentum=0.0,
        augment=Augment(rotation=20 / 360, zoom=0.0, flip="horizontal"),
        patience=1000,
        early_stopping_from=0.0,
        network=None,
    ),
}
