"""The one error serving raises: the model version cannot be served, with the reason."""

from __future__ import annotations


class ModelUnavailable(RuntimeError):
    """The requested model version is missing, incomplete or corrupt."""
