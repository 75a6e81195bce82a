"""The LiteRT runtime: a version's serving file (a flatbuffer exported from its Keras file).

TensorFlow's own CPU path spends most of a single-image prediction on per-call overhead; the
LiteRT interpreter runs the same graph and weights far faster, and a worker that serves through
it never imports TensorFlow. ``training.serving`` writes these files; ``tests/training`` checks
that both give the same probabilities.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from inference.errors import ModelUnavailable

SERVING_NAME = "model.tflite"
FLATBUFFER_ID = b"TFL3"  # bytes 4..8 of every LiteRT model file


def serving_file_problem(path: Path, sha256: str | None) -> str | None:
    """Why the serving file cannot be used, judged from its bytes alone; None when it looks sound."""
    if not path.is_file():
        return f"{path} is missing"
    data = path.read_bytes()
    if data[4:8] != FLATBUFFER_ID:
        return f"{path} is not a LiteRT model file"
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return f"{path} is damaged (its SHA-256 differs from the model card's)"
    return None


class LiteModel:
    """Callable on an NHWC float32 batch; returns one probability per row.

    With ``cam_output`` (the card's ``cam.output_name``) the file has a second output, the class
    activation map (``training.cam``); ``with_maps`` returns it beside the probabilities.
    """

    def __init__(self, path: Path, *, cam_output: str | None = None):
        if not Path(path).is_file():
            raise ModelUnavailable(f"model file missing: {path}")
        from ai_edge_litert.interpreter import Interpreter

        try:
            # One thread: a worker predicts one image at a time, and several worker processes
            # share the machine's cores.
            self._interpreter = Interpreter(model_path=str(path), num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"model file {path} cannot be loaded: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._maps: int | None = None
        if cam_output:
            maps = [o["index"] for o in outputs if o["name"] == cam_output]
            if len(maps) != 1 or len(outputs) != 2:
                raise ModelUnavailable(f"model file {path} has no heat-map output {cam_output!r}")
            self._maps = maps[0]
            outputs = [o for o in outputs if o["index"] != self._maps]
        self._output = outputs[0]["index"]
        self._lock = threading.Lock()  # an interpreter must not run two invocations at once

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, maps=False)[0]

    @property
    def has_maps(self) -> bool:
        return self._maps is not None

    def with_maps(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(N,)`` and class activation maps ``(N, h, w)`` of a batch."""
        if self._maps is None:
            raise ModelUnavailable("this model version has no heat-map output")
        probs, maps = self._run(batch, maps=True)
        return probs, np.stack(maps) if maps else np.zeros((0, 0, 0), dtype=np.float32)

    def _run(self, batch: np.ndarray, *, maps: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        probs, found = np.empty(len(batch), dtype=np.float32), []
        with self._lock:
            for row, x in enumerate(batch):
                self._interpreter.set_tensor(self._input, np.ascontiguousarray(x[None], dtype=np.float32))
                self._interpreter.invoke()
                probs[row] = self._interpreter.get_tensor(self._output).reshape(-1)[0]
                if maps:
                    found.append(self._interpreter.get_tensor(self._maps)[0].copy())
        return probs, found
