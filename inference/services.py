"""Database writes for model versions: register (a candidate), activate, roll back.

Registering never changes what is served. Activating is an administrator's decision, refused
for a version a worker could not load; workers follow it within ``FRACTURE_ACTIVE_RECHECK_S``.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction

from inference.cards import read_card, validate_card
from inference.errors import ModelUnavailable
from inference.models import ModelActivation, ModelVersion
from inference.registry import list_versions, models_root
from inference.runtime import serving_file_problem
from inference.signals import model_activated

ACTIVATE_PERMISSION = "inference.activate_modelversion"
INITIAL_REASON = "initial activation of the shipped version"
# ``expected_active`` left out: no stale-page check (commands, the fresh install).
ANY = object()


def model_version_register(*, card: dict) -> ModelVersion | None:
    """Record a version for the admin; None when no database is reachable or migrated.

    Training must work on a machine with no database at all, so an absent database is a note,
    not a failure.
    """
    try:
        connection.ensure_connection()
        if ModelVersion._meta.db_table not in connection.introspection.table_names():
            return None
        metrics = {
            split: {k: m.get(k) for k in ("auroc", "auroc_ci95", "group_auroc", "group_auroc_ci95")}
            for split, m in card.get("metrics", {}).items()
        }
        obj, _ = ModelVersion.objects.update_or_create(
            version=card["version"],
            defaults={
                "architecture": card["architecture"],
                "created_at": datetime.fromisoformat(card["created_at"]),
                "metrics": metrics,
                "card": card,
            },
        )
        return obj
    except DatabaseError:
        return None


def can_activate(user: AbstractBaseUser | None) -> bool:
    """Staff with the activation permission (superusers have every permission)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(ACTIVATE_PERMISSION)
    )


def model_version_problem(version: ModelVersion) -> str | None:
    """Why a worker could not serve ``version`` from this machine's models folder; None when it can.

    The card must be valid and name the version, the serving file must be there with the SHA-256
    the card records, and LiteRT must load it (the same ``Predictor`` a worker builds).
    """
    from inference.predictor import Predictor

    folder = models_root() / version.version
    if not folder.is_dir():
        return f"no folder {version.version!r} in {models_root()}"
    try:
        card = read_card(folder)
    except ModelUnavailable as exc:
        return str(exc)
    problems = validate_card(card)
    if card.get("version") != version.version:
        problems.append(f"the card names version {card.get('version')!r}, not {version.version!r}")
    if not card.get("serving_file"):
        problems.append("the card names no serving file (workers serve LiteRT files only)")
    elif not card.get("serving_file_sha256"):
        problems.append("the card records no SHA-256 of its serving file")
    if problems:
        return "invalid model card: " + "; ".join(problems)
    problem = serving_file_problem(folder / card["serving_file"], card["serving_file_sha256"])
    if problem:
        return problem
    try:
        Predictor(folder)
    except ModelUnavailable as exc:
        return str(exc)
    return None


def model_version_activate(
    *,
    version: ModelVersion,
    user: AbstractBaseUser | None,
    reason: str,
    expected_active: ModelActivation | object | None = ANY,
    is_rollback: bool = False,
) -> ModelActivation:
    """Make ``version`` the served one; nothing is written when it is refused.

    ``user`` None is the system (the fresh install's first activation); a user needs
    ``can_activate``. ``expected_active`` is the activation the administrator's page showed:
    if another activation happened since, the request is refused instead of silently replacing
    a version the administrator never saw. Raises ``PermissionDenied`` or ``ValidationError``.
    """
    if user is not None and not can_activate(user):
        raise PermissionDenied("activating a model version needs staff status and the activation permission")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this version is activated (it is kept in the audit trail)."})
    problem = model_version_problem(version)
    if problem:
        raise ValidationError(f"{version.version} cannot be served, so it was not activated: {problem}")
    with transaction.atomic():
        # Serialise activations: every registered version row is locked (a small table).
        list(ModelVersion.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        current = ModelActivation.objects.newest()
        if expected_active is not ANY and _pk(current) != _pk(expected_active):
            raise ValidationError(
                f"The active version changed to {current.version if current else 'none'} while this page was "
                "open; nothing was activated. Reload the page and decide again."
            )
        if current is not None and current.version_id == version.pk:
            raise ValidationError(f"{version.version} is already the active version.")
        activation = ModelActivation(
            version=version, activated_by=user, reason=reason, previous=current, is_rollback=is_rollback
        )
        activation.full_clean()
        activation.save()
        model_activated.send(sender=ModelActivation, activation=activation)
    return activation


def model_version_rollback(
    *, user: AbstractBaseUser | None, reason: str, expected_active: ModelActivation | object | None = ANY
) -> ModelActivation:
    """Activate again the version served before the current one (a new activation, marked rollback)."""
    current = ModelActivation.objects.newest() if expected_active is ANY else expected_active
    if current is None or current.previous is None:
        raise ValidationError("There is no earlier activation to roll back to.")
    return model_version_activate(
        version=current.previous.version, user=user, reason=reason, expected_active=current, is_rollback=True
    )


def model_version_activate_initial() -> ModelActivation | None:
    """A fresh install: activate the newest shipped (registered, servable) version when none is active.

    Returns None when something is already active or no registered version can be served.
    """
    if ModelActivation.objects.exists():
        return None
    names = [folder.name for folder in reversed(list_versions())]
    registered = {v.version: v for v in ModelVersion.objects.filter(version__in=names)}
    for name in names:
        version = registered.get(name)
        if version is not None and model_version_problem(version) is None:
            return model_version_activate(version=version, user=None, reason=INITIAL_REASON, expected_active=None)
    return None


def _pk(activation: object) -> int | None:
    return getattr(activation, "pk", None)
