"""Fine-tuning the pretrained network's last blocks on cached trunk outputs (training only).

Each training step draws (image, orientation) pairs from the cache of ``training.features``: the
eight orientations are the augmentation (the data set's rotated copies come in all of them).
Batch-norm layers keep their ImageNet statistics (``trainable=False`` runs them in inference
mode): a few thousand radiographs are too few to re-estimate them without noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HeadRecipe:
    size: int = 224
    split: int = 12  # blocks 0..split stay frozen in the trunk
    epochs: int = 2  # passes over every (image, orientation) pair
    batch_size: int = 64
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    dropout: float = 0.2
    label_smoothing: float = 0.05
    group_weight_power: float = 0.5


def build_pretrained_head(recipe: HeadRecipe, feature_shape: tuple[int, int, int], *, name: str = "head"):
    """The trainable head with ImageNet weights in its blocks; batch norm frozen."""
    import keras

    from training.efficientnet import build_head, load_imagenet_weights
    from training.pretrained import load_efficientnet_lite0

    head = build_head(feature_shape, recipe.split, dropout=recipe.dropout, name=name)
    load_imagenet_weights(head, load_efficientnet_lite0())
    for layer in head.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return head


def fit_head(
    features: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    recipe: HeadRecipe,
    *,
    seed: int,
    name: str = "head",
    on_batch=None,
):
    """Train one head on ``features`` (N x 8 x h x w x c) with per-image ``weights``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    n, n_views = features.shape[:2]
    head = build_pretrained_head(recipe, features.shape[2:], name=name)
    steps_per_epoch = int(np.ceil(n * n_views / recipe.batch_size))
    total = steps_per_epoch * recipe.epochs
    warmup = int(total * recipe.warmup_fraction)
    lr = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate * 0.1, decay_steps=max(1, total - warmup),
        warmup_target=recipe.learning_rate, warmup_steps=warmup,
    )  # fmt: skip
    head.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay), loss="binary_crossentropy")
    targets = (y.astype(np.float32) * (1 - recipe.label_smoothing) + 0.5 * recipe.label_smoothing).astype(np.float32)
    pairs = np.stack(np.meshgrid(np.arange(n), np.arange(n_views), indexing="ij"), -1).reshape(-1, 2)
    rng = np.random.default_rng(seed)

    def batches():
        for _ in range(recipe.epochs):
            order = pairs[rng.permutation(len(pairs))]
            for start in range(0, len(order), recipe.batch_size):
                rows, views = order[start : start + recipe.batch_size].T
                yield features[rows, views].astype(np.float32), targets[rows], weights[rows]

    spec = (
        tf.TensorSpec((None, *features.shape[2:]), tf.float32),
        tf.TensorSpec((None,), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    )
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)
    callbacks = [batch_hook(on_batch)] if on_batch else []
    head.fit(ds, epochs=1, steps_per_epoch=total, verbose=0, callbacks=callbacks)
    return head


def head_view_probabilities(head, features: np.ndarray) -> np.ndarray:
    """``(N, 8)`` probabilities, one column per orientation of ``imaging.DIHEDRAL``."""
    import tensorflow as tf

    forward = tf.function(lambda b: head(b, training=False), reduce_retracing=True)
    n, n_views = features.shape[:2]
    out = np.zeros((n, n_views), dtype=np.float64)
    for start in range(0, n, 128):
        chunk = features[start : start + 128]
        flat = chunk.reshape(-1, *features.shape[2:]).astype(np.float32)
        out[start : start + len(chunk)] = np.asarray(forward(flat)).reshape(len(chunk), n_views)
    return out


def batch_hook(fn):
    """A Keras callback that calls ``fn(batch, logs)`` after every training batch."""
    import keras

    class Hook(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            fn(batch, logs)

    return Hook()
