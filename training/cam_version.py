"""``manage.py export_serving --with-cam``: a new version serving the same network plus its heat map.

Versions are never rewritten in place (predictions record the version that made them), so the
map-producing serving file goes into a new folder ``<source>-cam``: the source's card with the new
LiteRT file, a ``cam`` block naming the second output and ``derived_from``. The Keras file is not
copied: the source version's stays the source of truth for training and evaluation, and the new
card names no ``model_file``. The folder is filled under a temporary name and renamed when
complete, so a half-written version is never served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from inference.cards import read_card, write_card
from inference.registry import ModelUnavailable, model_file, resolve_version_dir, staged_folder
from training.serving import SERVING_NAME

SUFFIX = "-cam"
REASON = (
    "adds the class activation map as a second LiteRT output; same network and weights "
    "(probabilities equal up to float rounding)"
)


def derive_cam_version(*, version: str | None = None, out: Path | None = None) -> Path:
    """Write ``<out or the models folder>/<source>-cam/`` from ``version``; return the new folder."""
    from training.cam import export_with_cam
    from training.forward import load_keras_model

    source_dir = resolve_version_dir(version)
    source = read_card(source_dir)
    if source.get("cam"):
        raise ModelUnavailable(f"{source_dir.name} already serves a heat map")
    keras_path = model_file(source_dir, source)
    if "model_file" not in source or not keras_path.is_file():
        raise ModelUnavailable(f"{source_dir.name} has no Keras file to derive a heat map from")
    model = load_keras_model(keras_path)

    target = (Path(out) if out else source_dir.parent) / f"{source_dir.name}{SUFFIX}"
    with staged_folder(target) as tmp:
        tmp.mkdir()
        entries = export_with_cam(model, tmp / SERVING_NAME)
        card = {k: v for k, v in source.items() if k not in ("model_file", "model_file_bytes")}
        card.update(entries)
        card.update(
            version=target.name,
            created_at=datetime.now(UTC).isoformat(),
            derived_from={"version": source["version"], "reason": REASON, "created_at": source.get("created_at")},
        )
        write_card(tmp, card)
    return target
