"""The audit trail: one append-only row per security-relevant action (who, what, when, from where).

``audit_record`` is the only writer and costs one INSERT. Services call it without a request:
``AuditContextMiddleware`` keeps the current request in a context variable so the address,
user agent and path are still recorded. Authentication events arrive through Django's signals
(``connect_signals``, called from the app config).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse

from diagnosis.models import AuditAction, AuditEvent, Case, Patient, Prediction, Radiograph, Review, SignOff
from inference.signals import model_activated

Action = AuditAction

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Make the request visible to ``audit_record`` calls made deep inside services."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def _team_id(obj: Any) -> int | None:
    """The owning care team, read from attributes the selectors already loaded."""
    if isinstance(obj, Patient | Case):
        return obj.team_id
    if isinstance(obj, Radiograph):
        return obj.case.team_id
    if isinstance(obj, Prediction):
        return obj.radiograph.case.team_id
    if isinstance(obj, Review):
        return obj.prediction.radiograph.case.team_id
    if isinstance(obj, SignOff):
        return obj.case.team_id
    return None


def _client_ip(request: HttpRequest) -> str | None:
    # The same resolution as the lockout (axes settings decide which proxy header to trust).
    address = get_client_ip_address(request)
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: Any = None,
    request: HttpRequest | None = None,
    actor_name: str = "",
    description: str = "",
    target: tuple[str, str] | None = None,
    **extra: Any,
) -> AuditEvent:
    """Append one event about ``obj`` (or ``target``: a model name and id, for objects not at hand).

    ``actor_name`` names an actor that is not a user: "worker", or the username of a failed log-in.
    """
    request = request if request is not None else _current_request.get()
    user = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        actor=user,
        actor_username=(user.get_username() if user is not None else actor_name)[:150],
        action=action,
        extra=extra,
    )
    if obj is not None:
        event.object_type = obj._meta.model_name
        event.object_id = str(obj.pk)
        event.description = (description or str(obj))[:255]
        event.team_id = _team_id(obj)
    else:
        event.object_type, event.object_id = target or ("", "")
        event.description = description[:255]
    if request is not None:
        event.ip_address = _client_ip(request)
        event.user_agent = request.META.get("HTTP_USER_AGENT", "")[:255]
        event.path = request.path[:255]
    event.save()
    return event


# Export ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "timestamp",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "description",
    "team",
    "ip_address",
    "user_agent",
    "path",
)
# A cell starting with one of these is a formula to a spreadsheet: "=HYPERLINK(...)" in a
# user-controlled field (a username, a file name) must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def audit_export_csv(*, user: AbstractBaseUser, events: QuerySet[AuditEvent]) -> Iterator[str]:
    """CSV lines of ``events`` (streamed); the export is itself recorded before the first line."""
    audit_record(actor=user, action=Action.EXPORT, description="Audit log CSV", rows=events.count())
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield writer.writerow(CSV_COLUMNS)
        for event in events.select_related("team").iterator(chunk_size=2000):
            row = [event.timestamp.isoformat(), *(getattr(event, c) for c in CSV_COLUMNS[1:6])]
            row += [event.team.name if event.team else "", event.ip_address, event.user_agent, event.path]
            yield writer.writerow([_cell(value) for value in row])

    return iter(lines())


# Signals --------------------------------------------------------------------------------------


def _on_login(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    audit_record(actor=user, action=Action.LOGIN, request=request)


def _on_logout(sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    audit_record(actor=user, action=Action.LOGOUT, request=request)


def _on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any) -> None:
    # ``credentials`` arrives with the password already masked by Django; only the name is kept.
    attempted = str(credentials.get("username") or "")
    audit_record(actor=None, action=Action.LOGIN_FAILED, request=request, actor_name=attempted)


def _on_admin_log(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        audit_admin_entries([instance])


def audit_admin_entries(entries: Iterable[LogEntry]) -> None:
    """Mirror admin LogEntry rows (which admins can edit in the database) into the audit trail."""
    for entry in entries:
        model = entry.content_type.model if entry.content_type_id else ""
        audit_record(
            actor=entry.user,
            action=Action.ADMIN_CHANGE,
            target=(model, str(entry.object_id or "")),
            description=f"{entry.get_action_flag_display()}: {entry.object_repr}",
            change=entry.get_change_message(),
        )


def _on_model_activated(sender: Any, activation: Any, **kwargs: Any) -> None:
    """An activation (sent inside its transaction by ``inference.services``): who, which, why."""
    previous = activation.previous.version.version if activation.previous else None
    audit_record(
        actor=activation.activated_by,
        actor_name="system",
        action=Action.MODEL_ROLLBACK if activation.is_rollback else Action.MODEL_ACTIVATION,
        obj=activation,
        description=f"{previous or 'none'} -> {activation.version.version}",
        version=activation.version.version,
        previous_version=previous,
        reason=activation.reason,
    )


def connect_signals() -> None:
    dispatch = "diagnosis.audit"
    model_activated.connect(_on_model_activated, dispatch_uid=f"{dispatch}.model_activated")
    user_logged_in.connect(_on_login, dispatch_uid=f"{dispatch}.login")
    user_logged_out.connect(_on_logout, dispatch_uid=f"{dispatch}.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid=f"{dispatch}.login_failed")
    post_save.connect(_on_admin_log, sender=LogEntry, dispatch_uid=f"{dispatch}.admin")
