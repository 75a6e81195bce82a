"""Leakage check between splits: exact duplicates (SHA-256) and near duplicates (pHash).

Near duplicates are looked for under the 8 rotations/flips, because the Kaggle set holds
rotated and mirrored copies of the same radiograph in different splits.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from PIL import Image
from scipy.fft import dct

from inference.imaging import to_grey

# The shared dataset groups images within 4 bits (of 64) under rotation/flip; same rule here.
NEAR_BITS = 4
MAX_EXAMPLES = 10


def _hash_bits(pixels: np.ndarray) -> np.uint64:
    # Same construction as imagehash.phash: 32x32 DCT, top-left 8x8, above the median.
    coeffs = dct(dct(pixels, axis=0, norm=None), axis=1, norm=None)[:8, :8]
    bits = (coeffs > np.median(coeffs)).reshape(-1)
    return np.uint64(int("".join("1" if b else "0" for b in bits), 2))


def dihedral_phashes(image: Image.Image) -> np.ndarray:
    """pHash of the image under each of the 8 rotations/flips (uint64[8])."""
    small = np.asarray(to_grey(image).resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    views = []
    for flipped in (small, small[:, ::-1]):
        for k in range(4):
            views.append(np.rot90(flipped, k))
    return np.array([_hash_bits(v) for v in views], dtype=np.uint64)


def _min_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Min Hamming distance between a's identity hash and every view of b: (len(a), len(b))."""
    xor = a[:, 0][:, None, None] ^ b[None, :, :]
    return np.bitwise_count(xor).min(axis=2)


def duplicate_pairs(lf: list, rf: list, phashes: dict[str, np.ndarray]) -> tuple[list[tuple], list[tuple]]:
    """Exact pairs ``(a, b)`` and near pairs ``(a, b, bits)`` between two lists of ImageFiles."""
    by_sha = {}
    for f in rf:
        by_sha.setdefault(f.sha256, f)
    exact = [(f, by_sha[f.sha256]) for f in lf if f.sha256 in by_sha]
    near = []
    la = [f for f in lf if f.sha256 in phashes]
    ra = [f for f in rf if f.sha256 in phashes]
    if la and ra:
        dist = _min_distance(np.stack([phashes[f.sha256] for f in la]), np.stack([phashes[f.sha256] for f in ra]))
        exact_shas = {f.sha256 for f, _ in exact}
        for i, j in zip(*np.nonzero(dist <= NEAR_BITS), strict=True):
            if la[i].sha256 != ra[j].sha256 and la[i].sha256 not in exact_shas:
                near.append((la[i], ra[j], int(dist[i, j])))
    return exact, near


def check_leakage(splits: dict[str, list], phashes: dict[str, np.ndarray]) -> dict:
    """Report cross-split duplicates. ``splits`` maps split name to its ImageFile list."""
    report: dict = {"near_bits": NEAR_BITS, "pairs": {}, "exact_duplicates": 0, "near_duplicates": 0, "examples": []}
    for left, right in combinations(splits, 2):
        exact, near = duplicate_pairs(splits[left], splits[right], phashes)
        report["pairs"][f"{left}-{right}"] = {
            "exact_duplicates": len(exact),
            "near_duplicate_pairs": len(near),
            f"{left}_images_involved": len({f.sha256 for f, *_ in exact + near}),
            f"{right}_images_involved": len({g.sha256 for _, g, *_ in exact + near}),
        }
        report["exact_duplicates"] += len(exact)
        report["near_duplicates"] += len(near)
        for f, g in exact[:MAX_EXAMPLES]:
            report["examples"].append({"kind": "exact", "a": f.rel, "b": g.rel})
        for f, g, d in near[:MAX_EXAMPLES]:
            report["examples"].append({"kind": "near", "a": f.rel, "b": g.rel, "bits": d})
    report["leakage_found"] = bool(report["exact_duplicates"] or report["near_duplicates"])
    return report


def format_report(report: dict) -> str:
    lines = [f"leakage check (exact SHA-256; near: pHash <= {report['near_bits']} bits under rotation/flip)"]
    for pair, r in report["pairs"].items():
        lines.append(f"  {pair}: {r['exact_duplicates']} exact, {r['near_duplicate_pairs']} near-duplicate pairs")
    for ex in report["examples"][:MAX_EXAMPLES]:
        extra = f" ({ex['bits']} bits)" if "bits" in ex else ""
        lines.append(f"    {ex['kind']}: {ex['a']} ~ {ex['b']}{extra}")
    lines.append("  LEAKAGE FOUND" if report["leakage_found"] else "  no leakage found")
    return "\n".join(lines)
