"""A heat-map version against its source: same probabilities on a split, and the cost of the map.

Both LiteRT files (the source version's, and its ``<source>-cam`` derivative from
``manage.py export_serving --with-cam``) score every image of the split through the worker's own
preprocessing; the script prints the largest absolute difference of their raw probabilities and
the time per image at batch 1 (interleaved, median of the rounds), plus the map drawn as a PNG.

    .venv/bin/python bench/cam_compare.py --data DIR --derived var/cam-version/VERSION-cam [--split test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with <split>/<class>/ images")
    parser.add_argument("--derived", type=Path, required=True, help="the -cam version folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the split per model")
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from inference.cards import read_card
    from inference.heatmap import overlay_png
    from inference.imaging import ImageDecodeError, open_image, to_model_input
    from inference.registry import resolve_version_dir
    from inference.runtime import LiteModel

    derived = read_card(args.derived)
    source_dir = resolve_version_dir(derived["derived_from"]["version"])
    source = read_card(source_dir)
    plain = LiteModel(source_dir / source["serving_file"])
    with_map = LiteModel(args.derived / derived["serving_file"], cam_output=derived["cam"]["output_name"])

    files, images, skipped = [], [], 0
    for path in sorted(p for p in (args.data / args.split).rglob("*") if p.is_file()):
        try:
            images.append(open_image(path))
            files.append(path)
        except ImageDecodeError:
            skipped += 1  # training skips the same files
    batch = np.stack([to_model_input(img, derived["input"]) for img in images])
    print(
        f"{len(files)} images of {args.data / args.split} ({skipped} unreadable, skipped); "
        f"{source_dir.name} vs {args.derived.name}"
    )

    p_source = plain(batch)
    p_derived, maps = with_map.with_maps(batch)
    print(f"max |p_source - p_derived| = {np.abs(p_source - p_derived).max():.3g} (raw, before calibration)")
    print(f"identical probabilities: {int((p_source == p_derived).sum())} of {len(files)}")

    timings: dict[str, list[float]] = {"source": [], "with map": [], "with map + PNG": []}
    for _ in range(args.rounds):
        for name in timings:
            start = time.perf_counter()
            for row, image in enumerate(images):
                x = batch[row : row + 1]
                if name == "source":
                    plain(x)
                else:
                    _, m = with_map.with_maps(x)
                    if name == "with map + PNG":
                        overlay_png(m[0], image_size=image.size, spec=derived["input"])
            timings[name].append((time.perf_counter() - start) * 1000 / len(images))
    base = statistics.median(timings["source"])
    for name, samples in timings.items():
        ms = statistics.median(samples)
        print(f"{name:>15}: {ms:.2f} ms per image (batch 1), {ms / base:.3f}x the source")
    sizes = [len(overlay_png(maps[i], image_size=images[i].size, spec=derived["input"])) for i in range(len(images))]
    print(f"overlay PNG: median {statistics.median(sizes) / 1024:.1f} KiB, largest {max(sizes) / 1024:.1f} KiB")
    print(
        f"serving files: source {source['serving_file_bytes'] / 1e6:.1f} MB, "
        f"derived {derived['serving_file_bytes'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
