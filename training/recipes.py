"""Training recipes per architecture: everything that decides a run besides the data and seed."""

from __future__ import annotations

RECIPES: dict[str, dict] = {
    "default": {
        "members": 1,
        "epochs": 24,
        "batch_size": 32,
        "optimizer": "adamw",
        "learning_rate": 2e-3,
        "weight_decay": 1e-4,
        "warmup_epochs": 1,
        "schedule": "cosine",
        "label_smoothing": 0.05,
        "group_weight_power": 0.5,
        "class_balanced": True,
        "kind_balanced": True,  # classes balanced within rotated copies and other images
        "ema_momentum": 0.99,
        # Batch-norm statistics of the scored and kept weights from this many clean training
        # images ("precise BN"), 0 = the moving averages from training. It makes the early
        # epochs' scores meaningful (moving averages lag while the learning rate is high), but
        # over seeds 0-2 it selected slightly worse networks on validation (0.872 vs 0.878):
        # off (training/README.md).
        "bn_recalibration": 0,
        "augment": {"rotation": 0.1, "zoom": 0.1, "flip": "horizontal_and_vertical", "gamma": False, "noise": False},
        "patience": 6,
        "early_stopping_from": 0.5,  # of the epochs: no stopping before the schedule has decayed
        "tta": [],
        "network": {"widths": [32, 48, 96, 160, 224], "dropout": 0.3, "standardize": False},
    },
    # The prototype's recipe: Adam at Keras defaults, plain BCE, rotation and flip, 30 epochs,
    # no class or group weights. It gets the same best-epoch selection on validation AUROC as
    # the default, which can only help it.
    "seed": {
        "members": 1,
        "epochs": 30,
        "batch_size": 32,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "warmup_epochs": 0,
        "schedule": "constant",
        "label_smoothing": 0.0,
        "group_weight_power": 0.0,
        "class_balanced": False,
        "kind_balanced": False,
        "ema_momentum": 0.0,
        "bn_recalibration": 0,  # the prototype's network has no batch norm
        "augment": {"rotation": 20 / 360, "zoom": 0.0, "flip": "horizontal", "gamma": False, "noise": False},
        "patience": 1000,
        "early_stopping_from": 0.0,
        "tta": [],
        "network": {},
    },
}
