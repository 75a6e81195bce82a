"""The serving line: ``inference``, ``diagnosis`` and ``shadow`` never import TensorFlow, Keras or training.

Every import statement in every module is read, function-level ones too (lazy imports are where
a heavy dependency would slip in unseen), so a forbidden import fails here before any process
happens to execute it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "inference": ("tensorflow", "keras", "training", "diagnosis", "shadow", "scipy", "sklearn"),
    "diagnosis": ("tensorflow", "keras", "training", "scipy", "sklearn"),
    "shadow": ("tensorflow", "keras", "training", "scipy", "sklearn"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str) -> list[str]:
    banned = FORBIDDEN[package]
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in banned:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_never_imports_forbidden_modules(package):
    assert _violations(package) == []


def test_the_walk_sees_function_level_imports(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    import tensorflow as tf\n    from training.forward import x\n")
    assert [name for _, name in imported_modules(module)] == ["tensorflow", "training.forward"]
