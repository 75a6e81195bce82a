"""Database unavailable: a friendly 503 (a page, or JSON under /api/), never a stack trace.

Django hands a view's exception to ``process_exception``; that covers the views, DRF's
authentication (run inside the view) and template rendering, which is where the lazy user and
session first touch the database. Errors that are bugs (IntegrityError, ProgrammingError...)
are not caught: they stay 500s and are logged with their traceback as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from diagnosis.api.exceptions import error_body

logger = logging.getLogger(__name__)

# OperationalError: cannot connect, connection lost, server shutting down, lock timeout.
# InterfaceError: the connection object is already closed.
UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_S = 30
API_PREFIX = "/api/"
API_DETAIL = "The service is temporarily unavailable (database unreachable). Please retry shortly."


class DatabaseUnavailableMiddleware:
    """Answer 503 with ``Retry-After`` when the database cannot be reached."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        logger.error("database unavailable, 503 for %s %s: %s", request.method, request.path, exception)
        if request.path.startswith(API_PREFIX):
            response: HttpResponse = JsonResponse(error_body(API_DETAIL), status=503)
        else:
            # Rendered without the request: no context processor may touch the user or session.
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        response["Cache-Control"] = "no-store"
        return response
