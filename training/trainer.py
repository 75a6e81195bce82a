"""The training service behind ``manage.py retrain``: data -> checks -> fit -> version folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.cards import write_card
from inference.registry import MODEL_NAME, models_root, staged_version_folder
from training.cache import ImageCache
from training.cards import assemble, data_facts, run_facts
from training.crossval import pooled
from training.dataset import SPLITS, SplitData, as_float, counts_table, load_splits
from training.extra import ExtraData, load_extra, refuse_duplicates
from training.leakage import check_leakage, format_report
from training.metrics import THRESHOLD_RULE, choose_thresholds, evaluate_predictions, summary_line
from training.recipes import RECIPES, Recipe
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
    extra: Path | None = None  # an export_dataset --reviewed-only folder: clinician-confirmed training images
    models_dir: Path | None = None
    cache_dir: Path | None = None
    progress_file: object = None
    overrides: dict = field(default_factory=dict)

    def recipe(self) -> Recipe:
        if self.arch not in RECIPES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose from {', '.join(RECIPES)}")
        changes = dict(self.overrides)
        for name in ("epochs", "batch_size", "members"):
            if getattr(self, name):
                changes[name] = int(getattr(self, name))
        return RECIPES[self.arch].with_overrides(changes)

    def models_root(self) -> Path:
        return Path(self.models_dir) if self.models_dir else models_root()


@dataclass
class TrainResult:
    version_dir: Path
    card: dict


@dataclass
class Prepared:
    """Decoded, checked data: the splits, their leakage report, and any clinician-confirmed extra images."""

    data: dict[str, SplitData]
    leakage: dict
    extra: ExtraData | None = None

    def facts(self, cfg: TrainConfig) -> dict:
        return data_facts(cfg.data, self.data, self.extra.facts() if self.extra else None)

    def train(self) -> SplitData:
        """The training split, with the extra images after its own."""
        if self.extra is None:
            return self.data["train"]
        return pooled({"train": self.data["train"], "extra": self.extra.split}, ("train", "extra"))


def prepare_data(cfg: TrainConfig, spec: dict, *, log: Log = print) -> Prepared:
    """Decode (or read the cache) every split, report counts and skipped files, then check for
    leakage between splits before any fitting; raise LeakageError unless it is allowed. Extra
    images (``cfg.extra``) are then checked against val, test and train: any duplicate is refused
    (ExtraDataError), whatever ``allow_leakage`` says."""
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
    if cfg.extra is None:
        return Prepared(data, leakage)
    extra = load_extra(Path(cfg.extra), spec, cache, progress=log)
    refuse_duplicates(extra, data, cache)
    facts = extra.facts()
    log(
        f"extra: {facts['count']} clinician-confirmed images for training only "
        f"({facts['by_label']['fractured']} fractured, {facts['by_label']['not_fractured']} not fractured), "
        "none duplicates val, test or train"
    )
    return Prepared(data, leakage, extra)


def train_version(cfg: TrainConfig, *, log: Log = print) -> TrainResult:
    started, cpu_started = time.monotonic(), time.process_time()
    import keras
    import tensorflow as tf

    from training.callbacks import ProgressBar
    from training.forward import batched_probabilities
    from training.networks import combine, input_spec
    from training.pipeline import sample_weights
    from training.plots import confusion_plot, roc_plot, training_curves

    recipe = cfg.recipe()
    spec = input_spec(cfg.arch, cfg.image_size)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    prepared = prepare_data(cfg, spec, log=log)
    decode_seconds = time.monotonic() - started

    # Fit each member on train; validation only selects each member's epoch and the thresholds.
    train, val, test = prepared.train(), prepared.data["val"], prepared.data["test"]
    batch, epochs, n_members = recipe.batch_size, recipe.epochs, recipe.members
    steps = int(np.ceil(len(train.x) / batch))
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
        group_power=recipe.group_weight_power,
        class_balanced=recipe.class_balanced,
        kinds=train.rotated if recipe.kind_balanced else None,
    )
    members = [
        _fit_member(cfg, recipe, spec, train, weights, val, x_val, index=i, n_members=n_members, bar=bar, log=log)
        for i in range(n_members)
    ]
    bar.close()
    fit_seconds = time.monotonic() - fit_started
    model = combine(cfg.arch, spec, [m.model for m in members])
    log(f"{cfg.arch}: {model.count_params():,} parameters")

    # Thresholds on validation, then the metrics of both splits.
    p_val = batched_probabilities(model, x_val, [])
    thresholds = choose_thresholds(val.y, p_val, val.groups)
    p_test = batched_probabilities(model, as_float(test.x), []) if len(test.x) else np.zeros(0)
    metrics = {"val": evaluate_predictions(val.y, p_val, val.groups, val.rotated, thresholds)}
    if len(test.x):
        metrics["test"] = evaluate_predictions(test.y, p_test, test.groups, test.rotated, thresholds)
    for split, m in metrics.items():
        log(f"{split}: {summary_line(m)}")

    # Version folder: written under a temporary name, renamed when complete.
    root = cfg.models_root()
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
        card = assemble(
            folder=tmp,
            version=version,
            architecture=cfg.arch,
            serving_entries=serving_entries,
            parameters=model.count_params(),
            spec=spec,
            preprocessing=(
                "inference.imaging.open_image (content sniffing, EXIF orientation) then to_model_input: "
                f"{spec['color']} via one conversion for every mode (alpha over black, 16-bit scaled), "
                f"{spec['resize']} to {spec['size']}px, scaled to [0, 1]"
            ),
            thresholds=thresholds,
            threshold_rule=THRESHOLD_RULE,
            seed=cfg.seed,
            recipe=recipe.card(),
            data=prepared.facts(cfg),
            leakage=prepared.leakage,
            metrics=metrics,
            training={
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
        )
        write_card(tmp, card)
    log(f"wrote {root / version} in {card['training']['wall_seconds']:.0f}s")
    return TrainResult(root / version, card)


@dataclass
class _Member:
    seed: int
    model: object
    selector: object


def _fit_member(cfg, recipe: Recipe, spec, train, weights, val, x_val, *, index, n_members, bar, log) -> _Member:
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
    augment = make_augmenter(seed, recipe.augment)
    batch, epochs = recipe.batch_size, recipe.epochs
    ds = train_dataset(
        train.x, train.y, weights, batch_size=batch, seed=seed, augment=augment,
        label_smoothing=recipe.label_smoothing,
    )  # fmt: skip
    model = build(cfg.arch, spec, recipe.network, name=_member_name(cfg.arch, index, n_members))
    steps = int(np.ceil(len(train.x) / batch))
    model.compile(optimizer=make_optimizer(recipe, steps, epochs), loss="binary_crossentropy")
    ema = WeightEMA(recipe.ema_momentum) if recipe.ema_momentum else None
    selector = ValidationAUROC(
        x_val,
        val.y,
        val.groups,
        predict=lambda m, x: batched_probabilities(m, x, []),
        patience=recipe.patience,
        stop_from_epoch=int(epochs * recipe.early_stopping_from),
        ema=ema,
        train_probe=_train_probe(train, seed),
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


def _serving_copy(arch: str, spec: dict, recipe: Recipe, members: list[_Member]):
    """The members' weights in freshly built, uncompiled networks, combined as in training."""
    from training.networks import build, combine

    copies = []
    for index, member in enumerate(members):
        copy = build(arch, spec, recipe.network, name=_member_name(arch, index, len(members)))
        copy.set_weights(member.model.get_weights())
        copies.append(copy)
    return combine(arch, spec, copies)


def _train_probe(train: SplitData, seed: int, size: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, un-augmented sample of ``size`` training images drawn by ``seed``."""
    pick = np.random.default_rng(seed).permutation(len(train.x))[:size]
    return as_float(train.x[pick]), train.y[pick]


def fit_fixed_schedule(
    arch: str, recipe: Recipe, spec: dict, train, *, seed: int, callbacks: list = (), name: str | None = None
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
        train.y, train.groups, group_power=recipe.group_weight_power, class_balanced=recipe.class_balanced,
        kinds=train.rotated if recipe.kind_balanced else None,
    )  # fmt: skip
    ds = train_dataset(
        train.x, train.y, weights, batch_size=recipe.batch_size, seed=seed,
        augment=make_augmenter(seed, recipe.augment), label_smoothing=recipe.label_smoothing,
    )  # fmt: skip
    model = build(arch, spec, recipe.network, name=name or arch)
    steps = int(np.ceil(len(train.x) / recipe.batch_size))
    model.compile(optimizer=make_optimizer(recipe, steps, recipe.epochs), loss="binary_crossentropy")
    ema = WeightEMA(recipe.ema_momentum) if recipe.ema_momentum else None
    model.fit(ds, epochs=recipe.epochs, callbacks=([ema] if ema else []) + list(callbacks), verbose=0)
    if ema is not None:
        model.set_weights(ema.average)
    return model


def make_optimizer(recipe: Recipe, steps: int, epochs: int):
    import keras

    lr = recipe.learning_rate
    if recipe.schedule == "cosine":
        warmup = steps * recipe.warmup_epochs
        lr = keras.optimizers.schedules.CosineDecay(
            lr * 0.1 if warmup else lr,
            decay_steps=max(1, steps * epochs - warmup),
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay)
    return keras.optimizers.Adam(lr)
