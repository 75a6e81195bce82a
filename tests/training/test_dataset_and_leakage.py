"""Reader, cache and the leakage check on the synthetic dataset."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from training.cache import ImageCache
from training.dataset import list_files, load_split
from training.leakage import check_leakage

SPEC = {"size": 32, "color": "grey", "resize": "letterbox"}


def _leakage(root, cache):
    splits = {s: list_files(root, s) for s in ("train", "val", "test")}
    return check_leakage(splits, cache.phashes([f for v in splits.values() for f in v]))


def test_reader_skips_truncated_jpeg_and_reads_png_named_jpg(tiny_dataset, tmp_path, caplog):
    folder = tiny_dataset / "train" / "fractured"
    data = (folder / "img0.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(data[: len(data) // 2])
    buf = io.BytesIO()
    Image.open(folder / "img1.png").rotate(45).save(buf, format="PNG")
    (folder / "really_png.jpg").write_bytes(buf.getvalue())

    split = load_split(tiny_dataset, "train", SPEC, ImageCache(tmp_path / "cache", workers=1))

    rels = [f.rel for f in split.files]
    assert "train/fractured/really_png.jpg" in rels
    assert "train/fractured/broken.jpg" not in rels
    assert [rel for rel, _ in split.skipped] == ["train/fractured/broken.jpg"]
    assert "broken.jpg" in caplog.text
    assert split.x.shape == (len(rels), 32, 32, 1) and split.x.dtype == np.uint8
    assert split.counts() == {"fractured": 17, "not_fractured": 16, "groups": 33, "skipped": 1}


def test_cache_serves_second_run_without_decoding(tiny_dataset, tmp_path, monkeypatch):
    cache = ImageCache(tmp_path / "cache", workers=1)
    first = load_split(tiny_dataset, "val", SPEC, cache)

    def boom(*_a, **_k):
        raise AssertionError("decoded again")

    monkeypatch.setattr("training.cache._decode", boom)
    second = load_split(tiny_dataset, "val", SPEC, cache)
    np.testing.assert_array_equal(first.x, second.x)
    # Other preprocessing settings are a different key, so they do decode.
    with pytest.raises(AssertionError, match="decoded again"):
        load_split(tiny_dataset, "val", {**SPEC, "size": 24}, cache)


def test_clean_splits_pass_the_leakage_check(tiny_dataset, tmp_path):
    assert _leakage(tiny_dataset, ImageCache(tmp_path / "c", workers=1))["leakage_found"] is False


def test_leakage_check_finds_planted_duplicate_and_rotated_copy(tiny_dataset, tmp_path):
    source = tiny_dataset / "train" / "not fractured" / "img1.png"
    shutil.copy(source, tiny_dataset / "test" / "not fractured" / "copy.png")
    Image.open(source).transpose(Image.Transpose.ROTATE_90).save(tiny_dataset / "val" / "not fractured" / "rot.png")

    report = _leakage(tiny_dataset, ImageCache(tmp_path / "c", workers=1))

    assert report["leakage_found"]
    assert report["pairs"]["train-test"]["exact_duplicates"] == 1
    assert report["pairs"]["train-val"]["near_duplicate_pairs"] >= 1
    kinds = {(e["kind"], e["b"]) for e in report["examples"]}
    assert ("exact", "test/not fractured/copy.png") in kinds
    assert ("near", "val/not fractured/rot.png") in kinds
