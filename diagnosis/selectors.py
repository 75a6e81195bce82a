"""Reads, always scoped to what the given user may see (STYLE.md: querysets scoped where made).

Visibility rule, used by every selector here:

* superusers see everything;
* any other user sees the data of the care teams (``auth.Group``) they belong to:
  a **case** is visible when its ``team`` is one of the user's teams;
  a **patient** is visible when the team that registered it (``Patient.team``) is one of the
  user's teams **or** one of the user's teams owns any of the patient's cases;
  a **radiograph** / **prediction** is visible when its case is.

Anything not visible behaves as if it did not exist: ``*_get`` raises ``Http404``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as Switch
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.http import Http404

from diagnosis.models import Case, OperatingPoint, Patient, Prediction, Radiograph, Review, SignOff, TeamSettings
from inference.models import ModelVersion

User = AbstractBaseUser | AnonymousUser

_NEWEST = ("-created_at", "-id")


def user_teams(*, user: User) -> QuerySet[Group]:
    """The care teams the user belongs to (superusers: their own memberships too)."""
    if not user.is_authenticated:
        return Group.objects.none()
    return Group.objects.filter(user=user).order_by("name")


def _sees_everything(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def filing_teams(*, user: User) -> QuerySet[Group]:
    """The care teams the user may file patients and cases under: the one rule for every path.

    A superuser may file under every team; anyone else under the teams they belong to. Used by
    the web forms, the API, the records services and the admin.
    """
    if _sees_everything(user):
        return Group.objects.order_by("name")
    if not user.is_authenticated or not user.is_active:
        return Group.objects.none()
    return user_teams(user=user)


def _team_ids(user: User) -> QuerySet[Group]:
    return user_teams(user=user).values("id")


def _visible_cases(user: User) -> QuerySet[Case]:
    if _sees_everything(user):
        return Case.objects.all()
    if not user.is_authenticated or not user.is_active:
        return Case.objects.none()
    return Case.objects.filter(team__in=_team_ids(user))


def _get(queryset: QuerySet, pk: Any, what: str) -> Any:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {what} matches the given query.") from exc


def _only(filters: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Keep the known, non-empty filter values; unknown keys are ignored, not trusted."""
    return {key: value for key, value in (filters or {}).items() if key in allowed and value not in (None, "")}


# Operating points -----------------------------------------------------------------------------
# A team reads the AI at one of the model card's thresholds (``TeamSettings.operating_point``).
# The stored prediction (label, threshold) is what the model said at the card's default and is
# never rewritten; "suspected at the team's point" is derived here, in SQL, for badges and order.


def team_operating_point(*, team: Group) -> str:
    """The team's operating point; ``balanced`` until an administrator chooses otherwise."""
    chosen = TeamSettings.objects.filter(team=team).values_list("operating_point", flat=True).first()
    return chosen or OperatingPoint.BALANCED


def _card_threshold(name: str, version: OuterRef | F) -> Subquery:
    card = ModelVersion.objects.filter(version=version).annotate(t=Cast(KT(f"card__thresholds__{name}"), FloatField()))
    return Subquery(card.values("t")[:1], output_field=FloatField())


def _with_operating_point(predictions: QuerySet[Prediction]) -> QuerySet[Prediction]:
    """Annotate ``operating_point``, ``operating_threshold`` (the card's threshold at that point;
    the run's own threshold when the version is not registered), ``suspected_at_point`` and
    ``point_label`` (the label at that threshold; NULL until the run succeeds)."""
    team_point = F("radiograph__case__team__settings__operating_point")
    point = Coalesce(team_point, Value(OperatingPoint.BALANCED), output_field=CharField())
    version = OuterRef("model_version")
    per_point = [
        When(radiograph__case__team__settings__operating_point=name, then=_card_threshold(name, version))
        for name in OperatingPoint.values
    ]
    threshold = Coalesce(
        Switch(
            *per_point,
            default=_card_threshold(OperatingPoint.BALANCED, version),
            output_field=FloatField(),
        ),
        F("threshold"),
        output_field=FloatField(),
    )
    suspected = Q(status=Prediction.Status.SUCCEEDED, probability__gte=F("operating_threshold"))
    return predictions.annotate(operating_point=point, operating_threshold=threshold).annotate(
        suspected_at_point=ExpressionWrapper(suspected, output_field=BooleanField()),
        point_label=Switch(
            When(suspected, then=Value(Prediction.Label.FRACTURED)),
            When(status=Prediction.Status.SUCCEEDED, then=Value(Prediction.Label.NOT_FRACTURED)),
            default=None,
            output_field=CharField(),
        ),
    )


# Patients -------------------------------------------------------------------------------------


def patient_list(*, user: User, query: str | None = None) -> QuerySet[Patient]:
    """Patients visible to the user (see module docstring), optionally searched by MRN or name."""
    if _sees_everything(user):
        patients = Patient.objects.all()
    elif not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    else:
        teams = _team_ids(user)
        has_team_case = Exists(Case.objects.filter(patient=OuterRef("pk"), team__in=teams))
        patients = Patient.objects.filter(Q(team__in=teams) | has_team_case)
    query = (query or "").strip()
    if query:
        patients = patients.filter(Q(mrn__iexact=query) | Q(mrn__istartswith=query) | Q(name__icontains=query))
    return patients.select_related("team")


def patient_directory(*, user: User, query: str | None = None) -> QuerySet[Patient]:
    """``patient_list`` with ``case_count``: how many of the patient's cases the user can see."""
    visible = _visible_cases(user).filter(patient=OuterRef("pk")).order_by().values("patient").annotate(n=Count("pk"))
    return patient_list(user=user, query=query).annotate(case_count=Coalesce(Subquery(visible.values("n")), 0))


def patient_get(*, user: User, pk: Any) -> Patient:
    """One visible patient; ``Http404`` if it does not exist or belongs to other teams only."""
    return _get(patient_list(user=user), pk, "patient")


# Cases ----------------------------------------------------------------------------------------


def _latest_prediction_of_case() -> QuerySet[Prediction]:
    return Prediction.objects.filter(radiograph__case=OuterRef("pk")).order_by(*_NEWEST)


def _current_predictions_of_case() -> QuerySet[Prediction]:
    """Each radiograph's current (newest) prediction, for the case in the outer query."""
    newest = Prediction.objects.filter(radiograph=OuterRef("radiograph")).order_by(*_NEWEST).values("pk")[:1]
    return Prediction.objects.filter(radiograph__case=OuterRef("pk"), pk=Subquery(newest))


def _count_per_case(predictions: QuerySet[Prediction]) -> Coalesce:
    per_case = predictions.order_by().values("radiograph__case").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(per_case), 0)


def _with_triage(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate what the worklist shows of each case (see ``worklist``).

    Only each radiograph's *current* (newest) prediction counts, so a re-run that no longer
    suspects a fracture clears the flag.
    """
    current = _with_operating_point(_current_predictions_of_case())
    succeeded = current.filter(status=Prediction.Status.SUCCEEDED)
    suspected = succeeded.filter(suspected_at_point=True)  # at the team's operating point
    # The most suspicious finished result; before any has finished, the newest run (pending or failed).
    top = succeeded.order_by("-probability", *_NEWEST)
    latest = _latest_prediction_of_case()

    def top_else_latest(field: str) -> Coalesce:
        return Coalesce(Subquery(top.values(field)[:1]), Subquery(latest.values(field)[:1]))

    newest_radiograph = Radiograph.objects.filter(case=OuterRef("pk")).order_by("-uploaded_at", "-id")
    return cases.annotate(
        radiograph_count=Count("radiographs", distinct=True),
        latest_radiograph_id=Subquery(newest_radiograph.values("id")[:1]),
        latest_prediction_id=Subquery(latest.values("id")[:1]),
        latest_prediction_status=Subquery(latest.values("status")[:1]),
        latest_prediction_label=Subquery(latest.values("label")[:1]),
        latest_prediction_probability=Subquery(latest.values("probability")[:1]),
        shown_prediction_id=top_else_latest("id"),
        shown_prediction_status=top_else_latest("status"),
        shown_prediction_label=top_else_latest("label"),
        shown_prediction_probability=top_else_latest("probability"),
        shown_prediction_point_label=Subquery(top.values("point_label")[:1]),
        suspicion=Subquery(suspected.order_by("-probability").values("probability")[:1]),
        shown_radiograph_id=Coalesce(
            top_else_latest("radiograph_id"),
            Subquery(newest_radiograph.values("id")[:1]),
            output_field=BigIntegerField(),
        ),
        suspected_count=_count_per_case(suspected),
        pending_count=_count_per_case(current.filter(status__in=(Prediction.Status.QUEUED, Prediction.Status.RUNNING))),
        fracture_suspected=Exists(suspected),
    )


def case_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Case]:
    """Visible cases, newest first.

    ``filters`` may hold ``patient`` (id), ``team`` (id), ``status`` and ``body_region``.
    """
    wanted = _only(filters, ("patient", "team", "status", "body_region"))
    return _visible_cases(user).filter(**wanted).select_related("patient", "team").order_by(*_NEWEST)


def _reviews() -> Prefetch:
    return Prefetch("reviews", queryset=Review.objects.select_related("reader").order_by(*_NEWEST))


def _prediction_history() -> QuerySet[Prediction]:
    return _with_operating_point(Prediction.objects.order_by(*_NEWEST)).prefetch_related(_reviews())


def _sign_offs() -> Prefetch:
    return Prefetch("sign_offs", queryset=SignOff.objects.select_related("signed_by").order_by(*_NEWEST))


def _radiographs_with_history() -> Prefetch:
    """Each radiograph newest first, with ``prediction_history`` (newest first; ``[0]`` is current)."""
    history = Prefetch("predictions", queryset=_prediction_history(), to_attr="prediction_history")
    radiographs = Radiograph.objects.order_by("-uploaded_at", "-id").prefetch_related(history)
    return Prefetch("radiographs", queryset=radiographs)


def case_get(*, user: User, pk: Any) -> Case:
    """One visible case with its radiographs and their prediction history (see above)."""
    cases = _visible_cases(user).select_related("patient", "team", "created_by")
    return _get(cases.prefetch_related(_radiographs_with_history(), _sign_offs()), pk, "case")


def case_for_upload(*, user: User, pk: Any) -> Case:
    """A visible case with its patient and team, nothing else: one query, for an upload.

    It carries ``checked_for`` (the user's id), so ``radiograph_upload`` does not check again.
    """
    cases = _visible_cases(user).select_related("patient", "team")
    return _get(cases.annotate(checked_for=Value(user.pk, output_field=BigIntegerField())), pk, "case")


def case_ensure_visible(*, user: User, pk: Any) -> None:
    """``Http404`` unless the case is visible: one EXISTS query, for services that hold the case."""
    if not _visible_cases(user).filter(pk=pk).exists():
        raise Http404("No case matches the given query.")


def case_history(*, user: User, patient: Patient) -> QuerySet[Case]:
    """The visible cases of one patient, newest first, with radiographs and prediction history."""
    return case_list(user=user, filters={"patient": patient.pk}).prefetch_related(_radiographs_with_history())


def worklist(*, user: User) -> QuerySet[Case]:
    """The triage worklist: recent cases of the user's teams, newest first.

    Each case carries ``radiograph_count``, ``latest_radiograph_id``,
    ``latest_prediction_{id,status,label,probability}`` (the newest run of any image),
    ``shown_prediction_{id,status,label,probability}`` and ``shown_radiograph_id`` (the most
    suspicious finished result: highest probability among the images' current predictions;
    before any has finished, the newest run), ``suspected_count`` and ``pending_count`` (images
    whose current prediction suspects a fracture / is still queued or running) and
    ``fracture_suspected`` (``suspected_count > 0``), so the page can rank and highlight
    without extra queries. Only the worklist pays for these subqueries.
    """
    return _with_triage(case_list(user=user))


WORKLIST_FILTERS = {
    "unread": "Unread",
    "suspected": "Suspected",
    "signed_off": "Signed off",
    "mine": "Mine",
}


def _reading_conditions(user: User) -> dict[str, Q]:
    """Per case in the outer query: whether it was read, signed off, is unread, or is the user's."""
    reads = Review.objects.filter(prediction__radiograph__case=OuterRef("pk"))
    sign_offs = SignOff.objects.filter(case=OuterRef("pk"))
    user_id = user.pk if user.is_authenticated else None
    return {
        "signed_off": Q(Exists(sign_offs)),
        "has_read": Q(Exists(reads)),
        "unread": ~Q(Exists(sign_offs)) & ~Q(Exists(reads)),
        "mine": Q(created_by_id=user_id)
        | Q(Exists(reads.filter(reader_id=user_id)))
        | Q(Exists(sign_offs.filter(signed_by_id=user_id))),
        "suspected": Q(Exists(_with_operating_point(_current_predictions_of_case()).filter(suspected_at_point=True))),
    }


def _with_reading(cases: QuerySet[Case], user: User) -> QuerySet[Case]:
    conditions = _reading_conditions(user)
    flags = {name: ExpressionWrapper(condition, output_field=BooleanField()) for name, condition in conditions.items()}
    flags.pop("suspected")  # ``worklist`` annotates it as ``fracture_suspected``
    return cases.annotate(**flags)


def triage_worklist(*, user: User, show: str | None = None) -> QuerySet[Case]:
    """The triage order: unread cases first, then by AI suspicion (the highest probability among
    the images' current predictions at or above the team's operating point; cases with none
    suspected after), then by waiting time (longest-open first).

    *Unread*: no clinician has recorded a read of any image nor signed the case off.
    ``show`` narrows to one of ``WORKLIST_FILTERS``: ``unread``, ``suspected`` (any image above
    the operating point), ``signed_off``, ``mine`` (opened, read or signed off by the user).
    """
    cases = _with_reading(worklist(user=user), user)
    if show in WORKLIST_FILTERS:
        cases = cases.filter(_reading_conditions(user)[show])
    return cases.order_by(F("unread").desc(), F("suspicion").desc(nulls_last=True), "created_at", "id")


def worklist_counts(*, user: User) -> dict[str, int]:
    """How many visible cases each worklist filter shows, and ``all``: one query."""
    conditions = _reading_conditions(user)
    counts = {name: Count("pk", filter=conditions[name]) for name in WORKLIST_FILTERS}
    return case_list(user=user).aggregate(all=Count("pk"), **counts)


def team_operating_points(*, user: User) -> list[tuple[Group, str]]:
    """Each of the user's teams with its operating point, for the pages to say which is in use."""
    teams = user_teams(user=user).annotate(point=Coalesce("settings__operating_point", Value(OperatingPoint.BALANCED)))
    return [(team, team.point) for team in teams]


# Radiographs and predictions ------------------------------------------------------------------


def radiograph_list(*, user: User) -> QuerySet[Radiograph]:
    """Radiographs of visible cases, newest first."""
    radiographs = Radiograph.objects.filter(case__in=_visible_cases(user))
    return radiographs.select_related("case", "case__patient", "case__team").order_by("-uploaded_at", "-id")


def radiograph_get(*, user: User, pk: Any) -> Radiograph:
    """One radiograph of a visible case, with its prediction history (newest first)."""
    radiographs = (
        Radiograph.objects.filter(case__in=_visible_cases(user))
        .select_related("case", "case__patient", "case__team")
        .prefetch_related(Prefetch("predictions", queryset=_prediction_history(), to_attr="prediction_history"))
    )
    return _get(radiographs, pk, "radiograph")


def prediction_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Prediction]:
    """Predictions on visible cases, newest first.

    ``filters`` may hold ``status``, ``label``, ``case`` (id), ``patient`` (id), ``radiograph`` (id)
    and ``model_version``.
    """
    wanted = _only(filters, ("status", "label", "case", "patient", "radiograph", "model_version"))
    lookups = {"case": "radiograph__case", "patient": "radiograph__case__patient"}
    predictions = _with_operating_point(Prediction.objects.filter(radiograph__case__in=_visible_cases(user))).filter(
        **{lookups.get(key, key): value for key, value in wanted.items()}
    )
    return predictions.select_related("radiograph", "radiograph__case").prefetch_related(_reviews()).order_by(*_NEWEST)


def prediction_get(*, user: User, pk: Any) -> Prediction:
    """One prediction on a visible case; ``Http404`` otherwise."""
    return _get(prediction_list(user=user), pk, "prediction")


# Clinical reading -----------------------------------------------------------------------------


def review_history(*, user: User, radiograph: Radiograph) -> QuerySet[Review]:
    """Every read of the image (across its predictions), newest first; ``[0]`` is the current one."""
    reviews = Review.objects.filter(
        prediction__radiograph=radiograph, prediction__radiograph__case__in=_visible_cases(user)
    )
    return reviews.select_related("reader", "prediction").order_by(*_NEWEST)


def sign_off_history(*, user: User, case: Case) -> QuerySet[SignOff]:
    """The case's sign-offs, newest first; ``[0]`` is the current report, the rest are amended."""
    sign_offs = SignOff.objects.filter(case=case, case__in=_visible_cases(user))
    return sign_offs.select_related("signed_by").order_by(*_NEWEST)


def case_radiograph_ids(*, user: User, case: Case) -> list[int]:
    """Ids of the case's radiographs in the order the case page lists them (newest first)."""
    return list(radiograph_list(user=user).filter(case=case).values_list("pk", flat=True))


def agreement_pairs(*, user: User) -> QuerySet[Review]:
    """For the agreement dashboard: each visible prediction's current read (later reads supersede)
    beside what the model said, as ``model_version``, ``label``, ``read`` and ``created_at`` values."""
    newest = Review.objects.filter(prediction=OuterRef("prediction")).order_by(*_NEWEST).values("pk")[:1]
    reads = Review.objects.filter(
        pk=Subquery(newest),
        prediction__status=Prediction.Status.SUCCEEDED,
        prediction__radiograph__case__in=_visible_cases(user),
    )
    fields = {"model_version": F("prediction__model_version"), "label": F("prediction__label")}
    return reads.values("read", "created_at", **fields).order_by("created_at")


def review_list(*, user: User) -> QuerySet[Review]:
    """Every read on visible cases, newest first (the admin's audit list)."""
    reviews = Review.objects.filter(prediction__radiograph__case__in=_visible_cases(user))
    return reviews.select_related("reader", "prediction", "prediction__radiograph").order_by(*_NEWEST)


def sign_off_list(*, user: User) -> QuerySet[SignOff]:
    """Every sign-off of visible cases, newest first (the admin's audit list)."""
    return SignOff.objects.filter(case__in=_visible_cases(user)).select_related("signed_by", "case").order_by(*_NEWEST)


def version_draws_heat_maps(*, version: str) -> bool:
    """Whether a model version's card declares the heat-map output (its predictions carry one)."""
    return ModelVersion.objects.filter(version=version, card__has_key="cam").exists()
