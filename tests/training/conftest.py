"""A tiny synthetic X-ray dataset drawn in a fixture: bones with and without a crack line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

PER_CLASS = {"train": 16, "val": 8, "test": 8}


def draw_bone(rng: np.random.Generator, *, cracked: bool, size: int = 64) -> Image.Image:
    """A bright shaft on a dark background, at a random angle; a fracture is a dark gap across it."""
    # Soft tissue: a random smooth background makes each picture distinct to a perceptual
    # hash, so the clean synthetic splits do not look like near duplicates of each other.
    tissue = rng.integers(0, 120, (6, 6), dtype=np.uint8)
    image = Image.fromarray(tissue, mode="L").resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    width = int(rng.integers(size // 6, size // 4))
    left = size // 2 - width // 2 + int(rng.integers(-4, 5))
    draw.rectangle([left, 4, left + width, size - 5], fill=int(rng.integers(170, 240)))
    if cracked:
        y = int(rng.integers(size // 3, 2 * size // 3))
        draw.line([left - 2, y, left + width + 2, y + int(rng.integers(-4, 5))], fill=10, width=3)
    angle = float(rng.uniform(-60, 60))
    return image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0)


def make_dataset(root: Path, *, seed: int = 0, per_class: dict[str, int] = PER_CLASS) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for cls in ("fractured", "not fractured"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                image = draw_bone(rng, cracked=cls == "fractured")
                # Mix formats and modes the way the real data does.
                if i % 3 == 0:
                    image.convert("RGB").save(folder / f"img{i}.jpg", quality=95)
                elif i % 3 == 1:
                    image.save(folder / f"img{i}.png")
                else:
                    image.convert("P").save(folder / f"img{i}.gif")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture(scope="module")
def trained_version(tmp_path_factory):
    """One real training run of the default pipeline, shared by the slower tests of a module."""
    from django.test import override_settings

    from training.trainer import TrainConfig, train_version

    base = tmp_path_factory.mktemp("trained")
    data = make_dataset(base / "data", seed=1)
    models, cache = base / "models", base / "cache"
    with override_settings(FRACTURE_MODELS_DIR=models, FRACTURE_CACHE_DIR=cache):
        result = train_version(
            TrainConfig(data=data, epochs=2, image_size=32, batch_size=16, models_dir=models, cache_dir=cache),
            log=lambda _msg: None,
        )
    return {"data": data, "models": models, "cache": cache, "result": result}


@pytest.fixture
def serve_models(settings, trained_version, no_database):
    settings.FRACTURE_MODELS_DIR = trained_version["models"]
    settings.FRACTURE_MODEL = ""
    settings.FRACTURE_CACHE_DIR = trained_version["cache"]
    from inference.predictor import clear_cache

    clear_cache()
    yield trained_version
    clear_cache()
