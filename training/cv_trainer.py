"""``manage.py retrain --arch pretrained``: the cross-validated, calibrated pretrained ensemble.

1. decode every split and check for leakage (as every recipe does);
2. pool train + val and cut five grouped folds (``training.crossval``);
3. run the frozen EfficientNet-Lite0 trunk once per image and orientation (cached);
4. per fold, fine-tune a head on the other four folds and score the held-out fold: the
   out-of-fold scores of all train + val groups;
5. from those: the calibration (temperature or Platt, by cross-fitted log loss), both
   operating points on the calibrated scale, and the card's out-of-fold metrics;
6. ship the five fold heads on one shared trunk as one network (Keras + LiteRT), and score
   ``test`` once with it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from inference.cards import write_card
from inference.imaging import DIHEDRAL
from inference.registry import MODEL_NAME, staged_version_folder
from training import calibration
from training.cards import assemble, run_facts
from training.crossval import fold_ids, pooled, subset
from training.dataset import as_float
from training.metrics import THRESHOLD_RULE, choose_thresholds, evaluate_predictions, summary_line
from training.pretrained import PROVENANCE
from training.serving import SERVING_NAME, export_serving
from training.trainer import Log, TrainConfig, TrainResult, prepare_data
from training.transfer import HeadRecipe

ARCH = "pretrained"
FOLDS = 5


def input_spec(recipe: HeadRecipe) -> dict:
    return {"size": recipe.size, "color": "grey", "resize": "letterbox"}


def train_pretrained_version(cfg: TrainConfig, recipe: HeadRecipe | None = None, *, log: Log = print) -> TrainResult:
    started, cpu_started = time.monotonic(), time.process_time()
    import keras
    import tensorflow as tf

    from training.features import trunk_features
    from training.pipeline import sample_weights
    from training.plots import confusion_plot, reliability_plot, roc_plot
    from training.transfer import fit_head, head_view_probabilities

    recipe = recipe or HeadRecipe()
    if cfg.epochs:
        recipe = replace(recipe, epochs=int(cfg.epochs))
    spec = input_spec(recipe)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    prepared = prepare_data(cfg, spec, log=log)
    data = prepared.data
    pool, test = pooled(data), data["test"]
    folds = fold_ids(pool, FOLDS, cfg.seed)
    # Extra (clinician-confirmed) images come after the pool with fold -1: in every fold's
    # training part, never held out, so they neither score nor calibrate anything.
    everything = pooled({"pool": pool, "extra": prepared.extra.split}, ("pool", "extra")) if prepared.extra else pool
    in_fold = np.concatenate([folds, np.full(len(everything.files) - len(pool.files), -1)])
    cache_root = _cache_root(cfg)

    log(f"pretrained trunk: {len(everything.files)} images x {len(DIHEDRAL)} orientations (cached)")
    bar = _bar(len(everything.files), "trunk", cfg.progress_file, unit="image")
    feats = trunk_features(
        [f.sha256 for f in everything.files], everything.x, size=recipe.size, split=recipe.split,
        cache_root=cache_root, progress=lambda done, total: _advance(bar, done),
    )  # fmt: skip
    bar.close()
    decode_seconds = time.monotonic() - started

    fit_started = time.monotonic()
    p_oof_raw = np.zeros(len(pool.files))
    heads, fold_rows = [], []
    for k in range(FOLDS):
        train, held = subset(everything, np.flatnonzero(in_fold != k)), subset(everything, np.flatnonzero(in_fold == k))
        weights = sample_weights(train.y, train.groups, group_power=recipe.group_weight_power, kinds=train.rotated)
        steps = int(np.ceil(len(train.rows) * len(DIHEDRAL) / recipe.batch_size))
        bar = _bar(steps * recipe.epochs, f"fold {k + 1}/{FOLDS}", cfg.progress_file, unit="batch")
        t = time.monotonic()
        head = fit_head(
            feats[train.rows], train.y, weights, recipe, seed=cfg.seed + k, name=f"head_{k + 1}",
            on_batch=_epoch_reporter(bar, steps, log=bar.write, label=f"fold {k + 1}"),
        )  # fmt: skip
        bar.close()
        # Served on the identity view alone: the held-out fold is scored on it.
        p_oof_raw[held.rows] = head_view_probabilities(head, feats[held.rows, :1])[:, 0]
        heads.append(head)
        fold = evaluate_predictions(held.y, p_oof_raw[held.rows], held.groups, held.rotated, {})
        fold_rows.append({
            "fold": k + 1, "train_images": len(train.rows), "held_out_images": len(held.rows),
            "extra_train_images": int((train.rows >= len(pool.files)).sum()),
            "held_out_groups": fold["n_groups"], "auroc": fold["auroc"], "group_auroc": fold["group_auroc"],
            "seconds": round(time.monotonic() - t, 1),
        })  # fmt: skip
        log(f"fold {k + 1}/{FOLDS}: held-out AUROC image {fold['auroc']:.3f} group {fold['group_auroc']:.3f}")
    fit_seconds = time.monotonic() - fit_started

    # Calibration and operating points from the out-of-fold scores of every train + val group.
    cal = calibration.choose(pool.y, p_oof_raw, folds)
    p_oof = calibration.apply(p_oof_raw, cal["a"], cal["b"])
    p_crossfit = calibration.cross_fitted(cal["method"], pool.y, p_oof_raw, folds)
    thresholds = choose_thresholds(pool.y, p_oof, pool.groups)
    metrics = {"cross_validation": evaluate_predictions(pool.y, p_oof, pool.groups, pool.rotated, thresholds)}
    calibration_block = {
        **{k: cal[k] for k in ("method", "a", "b")},
        "fitted_on": f"out-of-fold scores of train + val ({len(pool.files)} images, {FOLDS} grouped folds)",
        "cross_fitted_log_loss": cal["cross_fitted_log_loss"],
        "ece_raw": calibration.expected_calibration_error(pool.y, p_oof_raw),
        "ece_cross_fitted": calibration.expected_calibration_error(pool.y, p_crossfit),
        "ece_fitted": calibration.expected_calibration_error(pool.y, p_oof),
        "reliability": calibration.reliability_table(pool.y, p_crossfit),
        "applied": "inference.Predictor, after the mean over test-time views; thresholds are on this scale",
    }

    serving = build_serving(recipe, heads)
    p_test = None
    if len(test.files):
        from training.forward import batched_probabilities

        p_test = calibration.apply(batched_probabilities(serving, as_float(test.x), []), cal["a"], cal["b"])
        metrics["test"] = evaluate_predictions(test.y, p_test, test.groups, test.rotated, thresholds)
    for split, m in metrics.items():
        log(f"{split}: {summary_line(m)}")
    log(
        f"calibration: {cal['method']} (a={cal['a']:.3f}, b={cal['b']:.3f}); ECE out of fold "
        f"{calibration_block['ece_raw']:.3f} raw -> {calibration_block['ece_cross_fitted']:.3f} "
        "calibrated (cross-fitted)"
    )

    root = cfg.models_root()
    with staged_version_folder(root, ARCH) as (tmp, version):
        tmp.mkdir()
        serving.save(tmp / MODEL_NAME)
        serving_entries = export_serving(serving, tmp / SERVING_NAME)
        curves = {"cross-validation": (pool.y, p_oof, metrics["cross_validation"]["auroc"])}
        if p_test is not None:
            curves["test"] = (test.y, p_test, metrics["test"]["auroc"])
        roc_plot(curves, tmp / "roc_curve.png")
        split = "test" if p_test is not None else "cross_validation"
        confusion_plot(metrics[split]["per_image"]["at_threshold"], tmp / "confusion_matrix.png", title=split)
        reliability_plot(
            {
                "raw": calibration.reliability_table(pool.y, p_oof_raw),
                "calibrated (cross-fitted)": calibration_block["reliability"],
            },
            tmp / "reliability.png",
        )  # fmt: skip
        card = assemble(
            folder=tmp,
            version=version,
            architecture=ARCH,
            serving_entries=serving_entries,
            parameters=serving.count_params(),
            spec=spec,
            preprocessing=(
                "inference.imaging.open_image (content sniffing, EXIF orientation) then to_model_input: grey via one "
                f"conversion for every mode, letterbox to {spec['size']}px, scaled to [0, 1]; inside the network "
                "(x * 255 - 127) / 128 as the ImageNet weights expect"
            ),
            calibration=calibration_block,
            thresholds=thresholds,
            threshold_rule=THRESHOLD_RULE.replace("on validation only", "on out-of-fold scores of train + val"),
            seed=cfg.seed,
            recipe={**asdict(recipe), "folds": FOLDS, "members": FOLDS},
            pretrained=PROVENANCE,
            data=prepared.facts(cfg),
            leakage=prepared.leakage,
            metrics=metrics,
            training={
                "selection": (
                    f"{FOLDS}-fold grouped cross-validation over train + val (whole families per fold, stratified "
                    "by class and kind); the recipe was chosen on out-of-fold scores "
                    "(bench/results/cv-decision-rule.md)"
                ),
                "combination": f"mean of the {FOLDS} fold heads' probabilities on one shared frozen trunk",
                "folds": fold_rows,
                **run_facts(started, cpu_started, decode_seconds=decode_seconds, fit_seconds=fit_seconds),
            },
        )
        write_card(tmp, card)
    log(f"wrote {root / version} in {card['training']['wall_seconds']:.0f}s")
    return TrainResult(root / version, card)


def build_serving(recipe: HeadRecipe, heads: list):
    """One network: the frozen trunk with ImageNet weights, the fold heads, the mean of their outputs."""
    import keras

    from training.efficientnet import build_trunk, load_imagenet_weights
    from training.pretrained import load_efficientnet_lite0
    from training.transfer import build_pretrained_head

    trunk = build_trunk(recipe.size, recipe.split, channels=1)
    load_imagenet_weights(trunk, load_efficientnet_lite0())
    inputs = keras.Input((recipe.size, recipe.size, 1), name="image")
    features = trunk(inputs)
    outputs = []
    for head in heads:  # fresh, uncompiled copies: no optimizer state in the file
        copy = build_pretrained_head(recipe, tuple(features.shape[1:]), name=head.name)
        copy.set_weights(head.get_weights())
        outputs.append(copy(features))
    output = keras.layers.Average(name="pretrained")(outputs) if len(outputs) > 1 else outputs[0]
    output = keras.layers.Activation("linear", name="fractured")(output)
    served = keras.Model(inputs, output, name="pretrained_ensemble")
    # A served network is never trained: frozen, its batch norm always uses the stored statistics
    # (Keras runs nested functional models called without ``training=`` in training mode).
    served.trainable = False
    return served


def _cache_root(cfg: TrainConfig) -> Path:
    from training.cache import ImageCache

    return ImageCache(cfg.cache_dir).root


def _bar(total: int, label: str, file, *, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=unit, file=file, dynamic_ncols=False, ncols=100)


def _advance(bar, done: int) -> None:
    bar.update(done - bar.n)


def _epoch_reporter(bar, steps_per_epoch: int, *, log: Log, label: str):
    """A per-batch hook: advances the bar and writes one line per epoch (batches are counted here,
    since Keras restarts its batch index every epoch)."""
    started, seen = time.monotonic(), [0]

    def on_batch(_batch: int, logs: dict | None) -> None:
        seen[0] += 1
        bar.update(1)
        if seen[0] % steps_per_epoch == 0:
            loss = (logs or {}).get("loss", float("nan"))
            epoch = seen[0] // steps_per_epoch
            log(f"{label} epoch {epoch}: loss {loss:.4f} ({time.monotonic() - started:.0f}s)")
            bar.set_postfix(epoch=epoch, loss=f"{loss:.3f}")

    return on_batch
