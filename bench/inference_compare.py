"""Default model vs the prototype's seed network: CPU inference time per image and file size.

Both are measured in one process, one after the other, on the same inputs, through the same
serving function (training.inference.batched_probabilities, with the card's test-time
augmentation for the default). The seed network is built at its own input size (150 px RGB);
its weights do not change its speed or file size, so untrained weights are used when no trained
seed model file is at hand.

    .venv/bin/python bench/inference_compare.py [--model VERSION] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fracture_site.settings.local")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _time_per_image(fn, batch, runs: int) -> float:
    fn(batch)  # warm-up: graph tracing and memory allocation
    fn(batch)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(batch)
        samples.append((time.perf_counter() - start) * 1000 / len(batch))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default-architecture version (default: the served one)")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from training.inference import batched_probabilities, get_predictor
    from training.networks import build_seed, input_spec

    predictor = get_predictor(args.model)
    default_file = predictor.version_dir / predictor.card.get("model_file", "model.keras")
    seed_spec = input_spec("seed")
    seed_model = build_seed(seed_spec)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "seed.keras"
        seed_model.save(seed_file)
        seed_bytes = seed_file.stat().st_size

    rng = np.random.default_rng(0)
    rows = []
    for name, model, spec, tta, size_bytes in (
        ("default", predictor._model, predictor.spec, predictor.tta, default_file.stat().st_size),
        ("seed", seed_model, seed_spec, [], seed_bytes),
    ):
        channels = 3 if spec["color"] == "rgb" else 1
        timings = {}
        for batch_size in (1, 32):
            batch = rng.random((batch_size, spec["size"], spec["size"], channels), dtype=np.float32)
            timings[batch_size] = _time_per_image(
                lambda b, m=model, t=tta: batched_probabilities(m, b, t), batch, args.runs
            )
        rows.append((name, spec, tta, model.count_params(), size_bytes, timings))

    print(f"CPU cores: {os.cpu_count()}, runs: {args.runs} (median)")
    print(f"{'model':<8} {'input':<22} {'TTA':<6} {'params':>10} {'file MB':>8} {'ms/img b=1':>11} {'ms/img b=32':>12}")
    for name, spec, tta, params, size_bytes, t in rows:
        shape = f"{spec['size']}px {spec['color']} {spec['resize']}"
        views = len(tta) + 1
        print(f"{name:<8} {shape:<22} {views:<6} {params:>10,} {size_bytes / 1e6:>8.2f} {t[1]:>11.2f} {t[32]:>12.2f}")
    (_, _, _, dp, ds, dt), (_, _, _, sp, ss, st) = rows
    print(
        f"ratios seed/default: speed b=1 {st[1] / dt[1]:.1f}x, speed b=32 {st[32] / dt[32]:.1f}x, "
        f"file size {ss / ds:.1f}x, parameters {sp / dp:.1f}x"
    )


if __name__ == "__main__":
    main()
