"""API errors are JSON (DESIGN.md), including the ones Django raises before a view's own code.

Every error body the project builds itself comes from ``error_body``: ``{"detail": ...}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(APIException):
    """413: the request body, or the file in it, is over its limit; the detail says which."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def error_body(detail: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error: ``{"detail": ...}`` plus anything the client needs beside it."""
    return {"detail": detail, **extra}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Otherwise Django answers with its HTML "Bad Request" page.
        exc = PayloadTooLarge()
    return drf_exception_handler(exc, context)
