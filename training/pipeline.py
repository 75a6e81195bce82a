"""tf.data input pipelines and radiograph augmentation (imported by training only: it loads TensorFlow)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from training.recipes import Augment


def sample_weights(
    y: np.ndarray,
    groups: np.ndarray,
    *,
    group_power: float = 0.5,
    class_balanced: bool = True,
    kinds: np.ndarray | None = None,
) -> np.ndarray:
    """Class balance times a per-group down-weighting, normalised to mean 1.

    A rotated family of ~190 near-identical copies would otherwise outvote a hundred distinct
    radiographs; weighting each image by size**-power lets a family count for size**(1-power).
    With ``kinds`` (rotated-family or not) classes are balanced within each kind: in the train
    split rotated copies are mostly "not fractured" and other images mostly "fractured", a
    shortcut the network would otherwise learn from the black corners of the rotated copies.
    """
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = counts[inverse].astype(np.float64) ** -group_power
    if class_balanced:
        strata = np.zeros(len(y), dtype=int) if kinds is None else np.asarray(kinds, dtype=int)
        for stratum in np.unique(strata):
            in_stratum = strata == stratum
            share = in_stratum.mean()  # each kind keeps its share of the total weight
            for label in (0, 1):
                mask = in_stratum & (y == label)
                if mask.any():
                    w[mask] *= 0.5 * share / w[mask].sum()
    return (w / w.mean()).astype(np.float32)


def make_augmenter(seed: int, augment: Augment):
    """Augmentation for radiographs, as the recipe sets it: flips, rotation, and zoom with shift.

    The images come in arbitrary orientations (the data set itself holds rotated copies), so
    flips and rotation are realistic. Quarter turns, gamma and noise lost on validation and were
    removed (training/EXPERIMENTS.md).
    """
    import keras

    steps = [
        keras.layers.RandomFlip(augment.flip, seed=seed),
        keras.layers.RandomRotation(augment.rotation, fill_mode="constant", fill_value=0.0, seed=seed + 1),
    ]
    if augment.zoom:
        zoom = augment.zoom
        steps.append(keras.layers.RandomZoom((-zoom, zoom), fill_mode="constant", fill_value=0.0, seed=seed + 2))
        steps.append(keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=0.0, seed=seed + 3))
    geometric = keras.Sequential(steps, name="augment")

    def apply(x: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(geometric(x, training=True), 0.0, 1.0)

    return apply


def train_dataset(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    augment=None,
    label_smoothing: float = 0.0,
) -> tf.data.Dataset:
    """Shuffled, augmented batches from the cached uint8 array (kept uint8 until the last step)."""
    yy = y.astype(np.float32) * (1 - label_smoothing) + 0.5 * label_smoothing
    ds = tf.data.Dataset.from_tensor_slices((x, yy, w)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=False)

    def prepare(xb, yb, wb):
        xb = tf.cast(xb, tf.float32) / 255.0
        if augment is not None:
            xb = augment(xb)
        return xb, yb, wb

    # One map call per batch: per-image maps cost more than the augmentation itself on 2 cores.
    return ds.map(prepare, num_parallel_calls=1, deterministic=True).prefetch(2)
