"""The training service behind ``manage.py retrain``: data -> checks -> fit -> version folder."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from inference.cards import write_card
from inference.registry import MODEL_NAME, models_root, staged_version_folder
from training.cache import ImageCache
from training.dataset import SPLITS, SplitData, as_float, counts_table, load_splits
from training.leakage import check_leakage, format_report
from training.metrics import THRESHOLD_RULE, choose_thresholds, evaluate_predictions, summary_line
from training.recipes import RECIPES
from training.serving import SERVING_NAME, export_serving

Log = Callable[[str], None]


class LeakageError(RuntimeError):
    """Splits share images; training on them would report inflated scores."""


@dataclass
class TrainConfig:
    data: Path
    arch: str = "default"
    epochs: int | None = None
    image_size: int | None = None
    batch_size: int | None = None
    members: int | None = None
    seed: int = 0
    allow_leakage: bool = False
    models_dir: Path | None = None
    cache_dir: Path | None = None
    progress_file: object = None
    overrides: dict = field(default_factory=dict)

    def recipe(self) -> dict:
        recipe = {**RECIPES[self.arch], **self.overrides}
        if self.epochs:
            recipe["epochs"] = int(self.epochs)
        if self.batch_size:
            recipe["batch_size"] = int(self.batch_size)
        if self.members:
            recipe["members"] = int(self.members)
        return recipe


@dataclass
class TrainResult:
    version_dir: Path
    card: dict


def data_fingerprint(data: dict[str, SplitData]) -> str:
    """Digest of which bytes sit in which split with which label: same data, same fingerprint."""
    rows = sorted(f"{s}|{f.label}|{f.sha256}" for s, d in data.items() for f in d.files)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def cpu_description() -> dict:
    """The CPU's model name and its vector extensions (which select oneDNN's kernels)."""
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return {"model": model, "vector_extensions": sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))}


def library_versions() -> dict[str, str]:
    import platform

    import keras
    import PIL
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "scikit-learn": sklearn.__version__,
    }


def data_facts(cfg: TrainConfig, data: dict[str, SplitData]) -> dict:
    """The card's record of which data a version was trained and scored on."""
    return {
        "root": str(cfg.data),
        "fingerprint": data_fingerprint(data),
        "counts": {s: d.counts() for s, d in data.items()},
        "skipped": {s: [f"{rel}: {why}" for rel, why in d.skipped] for s, d in data.items()},
        "attribution": "Bone Fracture Multi-Region X-ray Data, Madushani Rodrigo (Kaggle), ODC-By 1.0",
    }


def run_facts(started: float, cpu_started: float, *, decode_seconds: float, fit_seconds: float) -> dict:
    """Timings and the machine, for the card's ``training`` block."""
    return {
        "decode_seconds": round(decode_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "wall_seconds": round(time.monotonic() - started, 1),
        # CPU seconds of all threads: on a machine shared with other jobs, CPU time / cores is
        # what the run would take alone.
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "cpu_count": os.cpu_count(),
        # Floating-point results (and so the weights) depend on the kernels the CPU's vector
        # extensions select: --seed reproduces a run bit for bit on the same CPU.
        "cpu": cpu_description(),
    }


def prepare_data(cfg: TrainConfig, spec: dict, *, log: Log = print) -> tuple[dict[str, SplitData], dict]:
    """Decode (or read the cache) every split, report counts and skipped files, then check for
    leakage between splits before any fitting; raise LeakageError unless it is allowed."""
    cache = ImageCache(cfg.cache_dir)
    data = load_splits(Path(cfg.data), SPLITS, spec, cache, progress=log)
    log(counts_table(data))
    for name in ("train", "val"):
        if len(set(data[name].y.tolist())) < 2:
            raise ValueError(f"the {name} split needs images of both classes")
    leakage = check_leakage(
        {s: d.files for s, d in data.items()}, cache.phashes([f for d in data.values() for f in d.files])
    )
    log(format_report(leakage))
    if leakage["leakage_found"] and not cfg.allow_leakage:
        raise LeakageError(
            f"{leakage['exact_duplicates']} exact and {leakage['near_duplicates']} near-duplicate pairs across "
            "splits: regroup the splits, or pass --allow-leakage to train anyway (scores will be inflated)"
        )
    return data, leakage


def train_version(cfg: TrainConfig, *, log: Log = print) -> TrainResult:
    started, cpu_started = time.monotonic(), time.process_time()
    import keras
    import tensorflow as tf

    from training.callbacks import ProgressBar
    from training.forward import batched_probabilities
    from training.networks import combine, input_spec
    from training.pipeline import sample_weights
    from training.plots import confusion_plot, roc_plot, training_curves

    if cfg.arch not in RECIPES:
        raise ValueError(f"unknown architecture {cfg.arch!r}; choose from {', '.join(RECIPES)}")
    recipe = cfg.recipe()
    spec = input_spec(cfg.arch, cfg.image_size)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    data, leakage = prepare_data(cfg, spec, log=log)
    decode_seconds = time.monotonic() - started

    # 3. Fit each member on train; validation only selects each member's epoch and the thresholds.
    train, val, test = data["train"], data["val"], data["test"]
    batch, epochs = recipe["batch_size"], recipe["epochs"]
    steps = int(np.ceil(len(train.x) / batch))
    n_members = int(recipe["members"])
    tta = list(recipe["tta"])
    x_val = as_float(val.x)
    bar = ProgressBar(steps * epochs * n_members, file=cfg.progress_file)
    log(
        f"training {cfg.arch}: {n_members} members of {epochs} epochs of {steps} batches each"
        if n_members > 1
        else f"training {cfg.arch}: {epochs} epochs of {steps} batches"
    )
    fit_started = time.monotonic()
    # The weights depend on the data alone, not on a member's seed: computed once.
    weights = sample_weights(
        train.y,
        train.groups,
        group_power=recipe["group_weight_power"],
        class_balanced=recipe["class_balanced"],
        kinds=train.rotated if recipe["kind_balanced"] else None,
    )
    members = [
        _fit_member(cfg, recipe, spec, train, weights, val, x_val, index=i, n_members=n_members, bar=bar, log=log)
        for i in range(n_members)
    ]
    bar.close()
    fit_seconds = time.monotonic() - fit_started
    model = combine(cfg.arch, spec, [m.model for m in members])
    log(f"{cfg.arch}: {model.count_params():,} parameters")

    # 4. Thresholds on validation, then the metrics of both splits.
    p_val = batched_probabilities(model, x_val, tta)
    thresholds = choose_thresholds(val.y, p_val, val.groups)
    p_test = batched_probabilities(model, as_float(test.x), tta) if len(test.x) else np.zeros(0)
    metrics = {"val": evaluate_predictions(val.y, p_val, val.groups, val.rotated, thresholds)}
    if len(test.x):
        metrics["test"] = evaluate_predictions(test.y, p_test, test.groups, test.rotated, thresholds)
    for split, m in metrics.items():
        log(f"{split}: {summary_line(m)}")

    # 5. Version folder: written under a temporary name, renamed when complete.
    root = Path(cfg.models_dir) if cfg.models_dir else models_root()
    with staged_version_folder(root, cfg.arch) as (tmp, version):
        tmp.mkdir()
        serving = _serving_copy(cfg.arch, spec, recipe, members)  # uncompiled: no optimizer state in the file
        serving.save(tmp / MODEL_NAME)
        serving_entries = export_serving(serving, tmp / SERVING_NAME)
        training_curves(
            [m.selector.history for m in members], tmp / "training_curves.png",
            best_epochs=[m.selector.best_epoch for m in members],
        )  # fmt: skip
        curves = {"val": (val.y, p_val, metrics["val"]["auroc"])}
        if "test" in metrics:
            curves["test"] = (test.y, p_test, metrics["test"]["auroc"])
            confusion_plot(metrics["test"]["per_image"]["at_threshold"], tmp / "confusion_matrix.png", title="test")
        else:
            confusion_plot(metrics["val"]["per_image"]["at_threshold"], tmp / "confusion_matrix.png", title="val")
        roc_plot(curves, tmp / "roc_curve.png")
        card = {
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "architecture": cfg.arch,
            "model_file": MODEL_NAME,
            "model_file_bytes": (tmp / MODEL_NAME).stat().st_size,
            **serving_entries,
            "parameters": int(model.count_params()),
            "input": spec,
            "preprocessing": (
                "inference.imaging.open_image (content sniffing, EXIF orientation) then to_model_input: "
                f"{spec['color']} via one conversion for every mode (alpha over black, 16-bit scaled), "
                f"{spec['resize']} to {spec['size']}px, scaled to [0, 1]"
                + ("; per-image standardisation inside the network" if recipe["network"].get("standardize") else "")
            ),
            "tta": tta,
            "thresholds": thresholds,
            "default_threshold": "balanced",
            "threshold_rule": THRESHOLD_RULE,
            "labels": {"positive": "fractured", "negative": "not_fractured"},
            "seed": cfg.seed,
            "recipe": recipe,
            "data": data_facts(cfg, data),
            "leakage": leakage,
            "metrics": metrics,
            "training": {
                "selection": "per member: the epoch with the best mean of val AUROC per image and per group",
                "combination": "mean of the members' probabilities" if n_members > 1 else None,
                "members": [
                    {
                        "seed": m.seed,
                        "epochs_run": len(m.selector.history),
                        "selected_epoch": m.selector.best_epoch,
                        "val_score": round(float(m.selector.best_score), 4),
                        "history": m.selector.history,
                    }
                    for m in members
                ],
                **run_facts(started, cpu_started, decode_seconds=decode_seconds, fit_seconds=fit_seconds),
            },
            "libraries": library_versions(),
            "notes": "Decision support only, not a diagnosis.",
        }
        write_card(tmp, card)
    log(f"wrote {root / version} in {card['training']['wall_seconds']:.0f}s")
    return TrainResult(root / version, card)


@dataclass
class _Member:
    seed: int
    model: object
    selector: object


def _fit_member(cfg, recipe, spec, train, weights, val, x_val, *, index, n_members, bar, log) -> _Member:
    """Fit one network with seed ``cfg.seed + index``; keep its best epoch on validation.

    Member ``i`` of a run with ``--seed S`` is exactly the single network ``--seed S+i`` would
    train: every random source is re-seeded here.
    """
    import keras

    from training.callbacks import ValidationAUROC, WeightEMA
    from training.forward import batched_probabilities
    from training.networks import build
    from training.pipeline import make_augmenter, train_dataset

    seed = cfg.seed + index
    keras.utils.set_random_seed(seed)
    aug = recipe["augment"]
    augment = make_augmenter(seed, **aug)
    batch, epochs = recipe["batch_size"], recipe["epochs"]
    ds = train_dataset(
        train.x, train.y, weights, batch_size=batch, seed=seed, augment=augment,
        label_smoothing=recipe["label_smoothing"],
    )  # fmt: skip
    model = build(cfg.arch, spec, name=_member_name(cfg.arch, index, n_members), **_network_kwargs(recipe))
    steps = int(np.ceil(len(train.x) / batch))
    model.compile(optimizer=make_optimizer(recipe, steps, epochs), loss="binary_crossentropy")
    tta = list(recipe["tta"])
    ema = WeightEMA(recipe["ema_momentum"]) if recipe["ema_momentum"] else None
    selector = ValidationAUROC(
        x_val,
        val.y,
        val.groups,
        predict=lambda m, x: batched_probabilities(m, x, tta),
        patience=recipe["patience"],
        stop_from_epoch=int(epochs * recipe["early_stopping_from"]),
        ema=ema,
        train_probe=_train_probe(train, seed),
        bn_calibration=_calibration_images(train, seed, recipe["bn_recalibration"]),
    )
    if n_members > 1:
        bar.label = f"member {index + 1}/{n_members}, "
    callbacks = ([ema] if ema else []) + [selector, bar]
    model.fit(ds, epochs=epochs, callbacks=callbacks, verbose=0)
    selector.restore_best()
    log(f"{bar.label}selected epoch {selector.best_epoch} (val score {selector.best_score:.4f})")
    return _Member(seed, model, selector)


def _member_name(arch: str, index: int, n_members: int) -> str:
    return arch if n_members == 1 else f"{arch}_{index + 1}"


def _network_kwargs(recipe: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in recipe["network"].items()}


def _serving_copy(arch: str, spec: dict, recipe: dict, members: list[_Member]):
    """The members' weights in freshly built, uncompiled networks, combined as in training."""
    from training.networks import build, combine

    copies = []
    for index, member in enumerate(members):
        copy = build(arch, spec, name=_member_name(arch, index, len(members)), **_network_kwargs(recipe))
        copy.set_weights(member.model.get_weights())
        copies.append(copy)
    return combine(arch, spec, copies)


def _train_sample(train: SplitData, seed, size: int) -> np.ndarray:
    """Indices of ``size`` training images drawn by ``seed``: a fixed, un-augmented sample."""
    return np.random.default_rng(seed).permutation(len(train.x))[:size]


def _train_probe(train: SplitData, seed: int, size: int = 384) -> tuple[np.ndarray, np.ndarray]:
    pick = _train_sample(train, seed, size)
    return as_float(train.x[pick]), train.y[pick]


def _calibration_images(train: SplitData, seed: int, size: int) -> np.ndarray | None:
    """Un-augmented training images for the batch-norm statistics of scored and kept weights."""
    return as_float(train.x[np.sort(_train_sample(train, [seed, 1], size))]) if size else None


def fit_fixed_schedule(
    arch: str, recipe: dict, spec: dict, train, *, seed: int, callbacks: list = (), name: str | None = None
):
    """One network of ``recipe`` trained on ``train`` (x, y, groups, rotated) for all its epochs.

    Cross-validation cannot pick an epoch on the fold it scores, so the network keeps the weight
    average (EMA) of its last epoch, or its last weights when the recipe has no EMA.
    """
    import keras
    import tensorflow as tf

    from training.callbacks import WeightEMA
    from training.networks import build
    from training.pipeline import make_augmenter, sample_weights, train_dataset

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    weights = sample_weights(
        train.y, train.groups, group_power=recipe["group_weight_power"], class_balanced=recipe["class_balanced"],
        kinds=train.rotated if recipe["kind_balanced"] else None,
    )  # fmt: skip
    ds = train_dataset(
        train.x, train.y, weights, batch_size=recipe["batch_size"], seed=seed,
        augment=make_augmenter(seed, **recipe["augment"]), label_smoothing=recipe["label_smoothing"],
    )  # fmt: skip
    model = build(arch, spec, name=name or arch, **_network_kwargs(recipe))
    steps = int(np.ceil(len(train.x) / recipe["batch_size"]))
    model.compile(optimizer=make_optimizer(recipe, steps, recipe["epochs"]), loss="binary_crossentropy")
    ema = WeightEMA(recipe["ema_momentum"]) if recipe["ema_momentum"] else None
    model.fit(ds, epochs=recipe["epochs"], callbacks=([ema] if ema else []) + list(callbacks), verbose=0)
    if ema is not None:
        model.set_weights(ema.average)
    return model


def make_optimizer(recipe: dict, steps: int, epochs: int):
    import keras

    lr = recipe["learning_rate"]
    if recipe["schedule"] == "cosine":
        warmup = steps * recipe["warmup_epochs"]
        lr = keras.optimizers.schedules.CosineDecay(
            lr * 0.1 if warmup else lr,
            decay_steps=max(1, steps * epochs - warmup),
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    if recipe["optimizer"] == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=recipe["weight_decay"])
    return keras.optimizers.Adam(lr)
