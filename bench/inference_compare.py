"""The served model vs the prototype's seed network: CPU inference time per image and file size.

Both are measured in one process, one after the other, on the same random inputs, in both
runtimes the project has: TensorFlow's compiled graph (training.forward.batched_probabilities,
with the card's test-time views for the served model) and LiteRT (inference.runtime, what the
worker serves). The seed network is built at its own input size (150 px RGB); its weights do not
change its speed or file size, so untrained weights are used.

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
    parser.add_argument("--model", default=None, help="version folder (default: the served one)")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from inference.cards import read_card
    from inference.registry import model_file, resolve_version_dir
    from inference.runtime import LiteModel
    from training.forward import batched_probabilities, load_keras_model
    from training.networks import build_seed, input_spec
    from training.serving import export_serving

    version_dir = resolve_version_dir(args.model)
    card = read_card(version_dir)
    default_keras = load_keras_model(model_file(version_dir, card))
    seed_spec = input_spec("seed")
    seed_keras = build_seed(seed_spec)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        served_model = (card["architecture"], default_keras, card["input"], card.get("tta", []))
        models = (served_model, ("seed", seed_keras, seed_spec, []))
        for name, keras_model, spec, tta in models:
            keras_file, lite_file = Path(tmp) / f"{name}.keras", Path(tmp) / f"{name}.tflite"
            keras_model.save(keras_file)
            export_serving(keras_model, lite_file)
            lite = LiteModel(lite_file)
            channels = 3 if spec["color"] == "rgb" else 1
            timings = {}
            for batch_size in (1, 32):
                batch = rng.random((batch_size, spec["size"], spec["size"], channels), dtype=np.float32)
                for runtime, model in (("tf", keras_model), ("lite", lite)):
                    timings[runtime, batch_size] = _time_per_image(
                        lambda b, m=model, t=tta: batched_probabilities(m, b, t), batch, args.runs
                    )
            sizes = {"keras": keras_file.stat().st_size, "lite": lite_file.stat().st_size}
            rows.append((name, spec, keras_model.count_params(), sizes, timings))

    print(f"CPU cores: {os.cpu_count()}, runs: {args.runs} (median ms per image)")
    header = f"{'model':<10} {'input':<20} {'params':>10} {'.keras MB':>9} {'.tflite MB':>10}"
    print(header + f" {'TF b=1':>7} {'TF b=32':>8} {'LiteRT b=1':>10} {'LiteRT b=32':>11}")
    for name, spec, params, sizes, t in rows:
        shape = f"{spec['size']}px {spec['color']}"
        print(
            f"{name:<10} {shape:<20} {params:>10,} {sizes['keras'] / 1e6:>9.2f} {sizes['lite'] / 1e6:>10.2f}"
            f" {t['tf', 1]:>7.2f} {t['tf', 32]:>8.2f} {t['lite', 1]:>10.2f} {t['lite', 32]:>11.2f}"
        )
    (_, _, dp, ds, dt), (_, _, sp, ss, st) = rows
    print(f"ratios seed / {rows[0][0]}, same runtime for both (above 1: the served model is faster):")
    print(f"  TensorFlow graph: b=1 {st['tf', 1] / dt['tf', 1]:.1f}x, b=32 {st['tf', 32] / dt['tf', 32]:.1f}x")
    print(f"  LiteRT:           b=1 {st['lite', 1] / dt['lite', 1]:.1f}x, b=32 {st['lite', 32] / dt['lite', 32]:.1f}x")
    served = st["tf", 1] / dt["lite", 1]
    print(f"served model (LiteRT) vs seed as the prototype ran it (Keras/TF), b=1: {served:.1f}x")
    print(
        f"file size: .keras {ss['keras'] / ds['keras']:.1f}x, .tflite {ss['lite'] / ds['lite']:.1f}x; "
        f"parameters {sp / dp:.1f}x"
    )


if __name__ == "__main__":
    main()
