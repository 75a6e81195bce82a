"""Clinician-facing pages. Thin: reads go through selectors, writes through services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from diagnosis import agreement, selectors, services, upload_limits
from diagnosis.api.authentication import token_or_login_required
from diagnosis.audit import Action, audit_record
from diagnosis.forms import CaseForm, PatientForm, ReviewForm, SignOffForm
from diagnosis.models import Case, Prediction, Radiograph
from diagnosis.thumbnails import radiograph_display_file, radiograph_thumbnail_file
from diagnosis.validation import clean_search_term, sanitise_filename

T = TypeVar("T")


def _apply_errors(form: Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: field errors by field, the rest on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _submitted(request: HttpRequest, form: Form, service: Callable[[dict], T]) -> T | None:
    """Call the service with a valid POSTed form; its ValidationError becomes form errors."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return service(form.cleaned_data)
    except ValidationError as error:
        _apply_errors(form, error)
        return None


def _form_page(request: HttpRequest, form: Form, *, title: str, cancel_url: str, **extra: object) -> HttpResponse:
    context = {"form": form, "title": title, "cancel_url": cancel_url, **extra}
    return render(request, "diagnosis/form.html", context, status=400 if form.is_bound else 200)


class LogoutWithMessage(LogoutView):
    """Log out, then say so on the login page: a bare login form leaves people unsure it worked."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.info(request, "You have been logged out.")
        return response


WORKLIST_LENGTH = 50


@login_required
@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    """The triage worklist; ``?fragment=1`` answers only the part ``worklist.js`` refreshes in place."""
    show = request.GET.get("show")
    show = show if show in selectors.WORKLIST_FILTERS else ""
    counts = selectors.worklist_counts(user=request.user)
    context = {
        "cases": selectors.triage_worklist(user=request.user, show=show)[:WORKLIST_LENGTH],
        "counts": counts,
        "filters": [(key, name, counts[key]) for key, name in selectors.WORKLIST_FILTERS.items()],
        "show": show,
        "points": selectors.team_operating_points(user=request.user),
        "length": WORKLIST_LENGTH,
        "nav": "worklist",
    }
    template = "diagnosis/_worklist_body.html" if request.GET.get("fragment") else "diagnosis/worklist.html"
    return render(request, template, context)


@login_required
@require_GET
def agreement_dashboard(request: HttpRequest) -> HttpResponse:
    """Staff only: per model version, the AI's opinions against clinicians' current reads."""
    if not request.user.is_staff:
        raise PermissionDenied("The agreement dashboard is for staff.")
    versions = agreement.agreement_by_version(selectors.agreement_pairs(user=request.user))
    panels = [
        {"entry": entry, "matrix_png": agreement.plot_matrix(entry), "weekly_png": agreement.plot_weekly(entry)}
        for entry in versions
    ]
    return render(request, "diagnosis/agreement.html", {"panels": panels, "nav": "agreement"})


@login_required
@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    query = clean_search_term(request.GET.get("q"))
    page = Paginator(selectors.patient_directory(user=request.user, query=query), 25).get_page(request.GET.get("page"))
    context = {"patients": page.object_list, "page_obj": page, "query": query, "nav": "patients"}
    return render(request, "diagnosis/patient_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.filing_teams(user=request.user))
    if not teams:
        messages.error(request, "You are not a member of any care team, so you cannot register patients.")
        return redirect("diagnosis:patient-list")
    form = PatientForm(request.POST or None, teams=teams)
    patient = _submitted(request, form, lambda data: services.patient_create(user=request.user, **data))
    if patient:
        messages.success(request, f"Patient {patient.name} registered.")
        return redirect("diagnosis:patient-detail", pk=patient.pk)
    return _form_page(
        request, form, title="New patient", cancel_url=reverse("diagnosis:patient-list"), submit_label="Register"
    )


@login_required
@require_GET
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    audit_record(actor=request.user, action=Action.VIEW_PATIENT, obj=patient, request=request)
    cases = selectors.case_history(user=request.user, patient=patient)
    return render(request, "diagnosis/patient_detail.html", {"patient": patient, "cases": cases, "nav": "patients"})


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    initial = {"mrn": patient.mrn, "name": patient.name, "date_of_birth": patient.date_of_birth, "sex": patient.sex}
    form = PatientForm(request.POST or None, initial=initial, teams=[], editing=True)
    if _submitted(request, form, lambda data: services.patient_update(user=request.user, patient=patient, data=data)):
        messages.success(request, "Patient details saved.")
        return redirect("diagnosis:patient-detail", pk=patient.pk)
    cancel = reverse("diagnosis:patient-detail", args=[patient.pk])
    return _form_page(request, form, title=f"Edit {patient.name}", cancel_url=cancel)


@login_required
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=patient_pk)
    teams = list(selectors.filing_teams(user=request.user))
    form = CaseForm(request.POST or None, teams=teams)
    case = _submitted(request, form, lambda data: services.case_create(user=request.user, patient=patient, **data))
    if case:
        messages.success(request, "Case opened. Add X-rays below.")
        return redirect("diagnosis:case-detail", pk=case.pk)
    cancel = reverse("diagnosis:patient-detail", args=[patient.pk])
    return _form_page(
        request,
        form,
        title="Open a case",
        subtitle=f"{patient.name} · MRN {patient.mrn}",
        cancel_url=cancel,
        submit_label="Open case",
    )


@login_required
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(user=request.user, pk=pk)
    audit_record(actor=request.user, action=Action.VIEW_CASE, obj=case, request=request)
    return _case_page(request, case, SignOffForm())


def _case_page(request: HttpRequest, case: Case, form: SignOffForm) -> HttpResponse:
    context = {
        "case": case,
        "radiographs": case.radiographs.all(),
        "sign_off_form": form,
        "operating_point": selectors.team_operating_point(team=case.team),
        "max_upload_bytes": upload_limits.max_upload_bytes(),
        "too_large_message": upload_limits.too_large_message(),
    }
    return render(request, "diagnosis/case_detail.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def case_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(user=request.user, pk=pk)
    form = SignOffForm(request.POST)
    if _submitted(request, form, lambda data: services.case_sign_off(case=case, user=request.user, **data)):
        messages.success(request, "Case signed off.")
        return redirect("diagnosis:case-detail", pk=case.pk)
    return _case_page(request, case, form)


@login_required
@require_GET
def case_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable report: images, AI opinion at the team's operating point, reads, sign-off."""
    case = selectors.case_get(user=request.user, pk=pk)
    audit_record(actor=request.user, action=Action.VIEW_CASE, obj=case, request=request, report=True)
    context = {
        "case": case,
        "radiographs": case.radiographs.all(),
        "operating_point": selectors.team_operating_point(team=case.team),
    }
    return render(request, "diagnosis/report.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(user=request.user, pk=pk)
    initial = {"body_region": case.body_region, "clinical_question": case.clinical_question, "status": case.status}
    form = CaseForm(request.POST or None, initial=initial, teams=[], editing=True)
    if _submitted(request, form, lambda data: services.case_update(user=request.user, case=case, data=data)):
        messages.success(request, "Case saved.")
        return redirect("diagnosis:case-detail", pk=case.pk)
    return _form_page(request, form, title="Edit case", cancel_url=reverse("diagnosis:case-detail", args=[case.pk]))


@login_required
@require_POST
def case_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Form upload for browsers without JavaScript; the page's script uses the API instead."""
    case = selectors.case_for_upload(user=request.user, pk=pk)
    files = request.FILES.getlist("image")
    too_large = upload_limits.dropped_uploads(request)
    for name in too_large:
        messages.error(request, f"{sanitise_filename(name)}: {upload_limits.too_large_message()}")
    if not files and not too_large:
        messages.error(request, "Choose at least one JPG, JPEG, PNG or DICOM image to upload.")
    for file in files:
        name = sanitise_filename(file.name)  # the page shows it; the client chose it
        try:
            services.radiograph_upload(case=case, file=file, user=request.user)
        except services.DuplicateRadiograph as duplicate:
            messages.warning(request, f"{name}: {duplicate.messages[0]}")
        except ValidationError as error:
            messages.error(request, f"{name}: {' '.join(error.messages)}")
        else:
            messages.success(request, f"{name}: uploaded, analysis queued.")
    return redirect("diagnosis:case-detail", pk=case.pk)


@login_required
@require_GET
def radiograph_detail(request: HttpRequest, pk: int) -> HttpResponse:
    radiograph = selectors.radiograph_get(user=request.user, pk=pk)
    audit_record(actor=request.user, action=Action.VIEW_RADIOGRAPH, obj=radiograph, request=request)
    return _radiograph_page(request, radiograph, ReviewForm())


def _radiograph_page(request: HttpRequest, radiograph: Radiograph, form: ReviewForm) -> HttpResponse:
    """The radiograph page; ``?fragment=1`` answers its content alone, which ``viewer-nav.js`` swaps in
    place for next/previous (same view: same team scoping and the same audit event as the page)."""
    ids = selectors.case_radiograph_ids(user=request.user, case=radiograph.case)
    position = ids.index(radiograph.pk)
    prediction = radiograph.current_prediction
    title = f"X-ray {radiograph.original_filename or radiograph.pk}"
    if len(ids) > 1:
        title += f" ({position + 1} of {len(ids)})"
    context = {
        "page_title": f"{title} · {radiograph.case.patient.name}",
        "position": position + 1,
        "total": len(ids),
        "previous_id": ids[position - 1] if position > 0 else None,
        "next_id": ids[position + 1] if position + 1 < len(ids) else None,
        "radiograph": radiograph,
        "case": radiograph.case,
        "prediction": prediction,
        "heat_map_lost": bool(
            prediction
            and not prediction.overlay
            and prediction.status == Prediction.Status.SUCCEEDED
            and selectors.version_draws_heat_maps(version=prediction.model_version)
        ),
        "reviews": selectors.review_history(user=request.user, radiograph=radiograph),
        "review_form": form,
    }
    fragment = request.method == "GET" and request.GET.get("fragment")
    template = "diagnosis/_radiograph_body.html" if fragment else "diagnosis/radiograph_detail.html"
    return render(request, template, context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def prediction_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a read against the prediction the clinician was shown (a re-run since does not move it)."""
    prediction = selectors.prediction_get(user=request.user, pk=pk)
    form = ReviewForm(request.POST)
    review = _submitted(
        request, form, lambda data: services.review_create(prediction=prediction, user=request.user, **data)
    )
    if review is None:
        return _radiograph_page(request, selectors.radiograph_get(user=request.user, pk=prediction.radiograph_id), form)
    messages.success(request, f"Your read ({review.get_read_display().lower()}) is recorded.")
    return redirect("diagnosis:radiograph-detail", pk=prediction.radiograph_id)


@token_or_login_required
@require_GET
def radiograph_image(request: HttpRequest, pk: int) -> FileResponse:
    """The image, for members of the case's team only: never from a public media URL. The API's
    ``image_url``: an API token is accepted as well as the log-in."""
    radiograph = selectors.radiograph_get(user=request.user, pk=pk)
    if request.GET.get("thumb"):
        # List previews are not recorded one by one: the page listing them is.
        handle, content_type = radiograph_thumbnail_file(radiograph), "image/jpeg"
    else:
        handle, content_type = radiograph_display_file(radiograph)
        audit_record(actor=request.user, action=Action.VIEW_IMAGE, obj=radiograph, request=request)
    return _private_image(handle, content_type)


@token_or_login_required
@require_GET
def prediction_overlay(request: HttpRequest, pk: int) -> FileResponse:
    """A prediction's heat-map PNG, scoped like the image: another team's reads as non-existent."""
    prediction = selectors.prediction_get(user=request.user, pk=pk)
    if not prediction.overlay:
        raise Http404("This prediction has no heat map.")
    try:
        handle = prediction.overlay.open("rb")
    except FileNotFoundError:
        raise Http404("This prediction's heat map is missing from storage.") from None
    # A heat map shows where on the patient's image the network looked: audited like the image.
    audit_record(actor=request.user, action=Action.VIEW_IMAGE, obj=prediction, request=request, kind="heat map")
    return _private_image(handle, "image/png")


def _private_image(handle, content_type: str) -> FileResponse:
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    return response
