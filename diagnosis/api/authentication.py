"""The API's token on plain Django views: the image and heat-map views the API links to
(``image_url``, ``overlay_url``) serve integrators as well as browsers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from diagnosis.api.exceptions import error_body


def _carries_token(request: HttpRequest) -> bool:
    parts = get_authorization_header(request).split()
    return bool(parts) and parts[0].lower() == TokenAuthentication.keyword.lower().encode()


def token_or_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Like the API: ``Authorization: Token <key>`` decides when sent (a bad token is a 401 JSON
    body, as the API answers it, even beside a session); otherwise the browser's log-in, and
    without one the log-in page. The view scopes what it serves to ``request.user`` as usual."""
    browser_view = login_required(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not _carries_token(request):
            return browser_view(request, *args, **kwargs)
        authentication = TokenAuthentication()
        try:
            request.user, _ = authentication.authenticate(request)
        except AuthenticationFailed as failure:
            response = JsonResponse(error_body(str(failure.detail)), status=401)
            response["WWW-Authenticate"] = authentication.authenticate_header(request)
            return response
        return view(request, *args, **kwargs)

    return wrapped
