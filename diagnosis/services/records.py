"""Patients and cases: registration and edits, filed under the user's care team."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Patient

PATIENT_EDITABLE = ("mrn", "name", "date_of_birth", "sex")
CASE_EDITABLE = ("body_region", "clinical_question", "status")


def _resolve_team(*, user: AbstractBaseUser, team: Group | None) -> Group:
    """The team to file a record under: the one given (one of ``selectors.filing_teams``) or, when
    the user may file under exactly one team, that team."""
    teams = selectors.filing_teams(user=user)
    if team is None:
        mine = list(teams[:2])
        if len(mine) == 1:
            return mine[0]
        reason = "You are not a member of any care team." if not mine else "Choose the care team."
        raise ValidationError({"team": reason}, code="team_required")
    if not teams.filter(pk=team.pk).exists():
        raise ValidationError({"team": "You are not a member of this care team."}, code="not_member")
    return team


def _apply(instance: Any, data: Mapping[str, Any], editable: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(data) - set(editable))
    if unknown:
        raise ValidationError({key: "This field cannot be changed." for key in unknown}, code="read_only")
    for key, value in data.items():
        setattr(instance, key, value)
    return list(data)


def save_validated(instance: Any, update_fields: list[str] | None = None, *, exclude: list[str] | None = None) -> None:
    """``full_clean`` (but for ``exclude``, fields the caller has just checked) then save; call
    inside ``transaction.atomic``."""
    instance.full_clean(exclude=exclude)
    instance.save(update_fields=update_fields)


# Patients -------------------------------------------------------------------------------------


def patient_create(
    *,
    user: AbstractBaseUser,
    team: Group | None = None,
    mrn: str,
    name: str,
    date_of_birth: datetime.date,
    sex: str = "unknown",
) -> Patient:
    """Register a patient under ``team`` (optional when the user is in exactly one team)."""
    patient = Patient(
        team=_resolve_team(user=user, team=team),
        mrn=mrn,
        name=name,
        date_of_birth=date_of_birth,
        sex=sex,
        created_by=user,
    )
    with transaction.atomic():
        save_validated(patient)
        audit_record(actor=user, action=Action.CREATE, obj=patient)
    return patient


def patient_update(*, user: AbstractBaseUser, patient: Patient, data: Mapping[str, Any]) -> Patient:
    """Change demographics (``mrn``, ``name``, ``date_of_birth``, ``sex``) of a visible patient."""
    selectors.patient_get(user=user, pk=patient.pk)
    fields = _apply(patient, data, PATIENT_EDITABLE)
    with transaction.atomic():
        save_validated(patient, [*fields, "updated_at"])
        # Field names only: the audit trail says what changed, the record holds the values.
        audit_record(actor=user, action=Action.EDIT, obj=patient, fields=fields)
    return patient


# Cases ----------------------------------------------------------------------------------------


def case_create(
    *,
    user: AbstractBaseUser,
    patient: Patient,
    team: Group | None = None,
    body_region: str,
    clinical_question: str = "",
) -> Case:
    """Open a case for a patient the user can see, owned by one of the user's teams."""
    owner = _resolve_team(user=user, team=team)
    if not selectors.patient_list(user=user).filter(pk=patient.pk).exists():
        raise ValidationError({"patient": "Unknown patient."}, code="not_visible")
    case = Case(
        patient=patient,
        team=owner,
        body_region=body_region,
        clinical_question=(clinical_question or "").strip(),
        created_by=user,
    )
    with transaction.atomic():
        save_validated(case)
        audit_record(actor=user, action=Action.CREATE, obj=case)
    return case


def case_update(*, user: AbstractBaseUser, case: Case, data: Mapping[str, Any]) -> Case:
    """Change ``body_region``, ``clinical_question`` or ``status`` of a visible case."""
    selectors.case_ensure_visible(user=user, pk=case.pk)
    fields = _apply(case, data, CASE_EDITABLE)
    with transaction.atomic():
        save_validated(case, [*fields, "updated_at"])
        audit_record(actor=user, action=Action.EDIT, obj=case, fields=fields)
    return case
