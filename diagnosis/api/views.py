"""API views: thin. Querysets come from selectors (scoped to the user), writes go to services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer, as_serializer_error
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from diagnosis import selectors, services, upload_limits
from diagnosis.api import serializers as s
from diagnosis.api.exceptions import PayloadTooLarge, error_body
from diagnosis.api.filters import CaseFilter, PredictionFilter
from diagnosis.api.parsers import SafeJSONParser
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Patient, Prediction
from diagnosis.validation import clean_search_term


def _call(service: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a service; its Django ValidationError becomes a 400 with field errors."""
    try:
        return service(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(as_serializer_error(exc)) from exc


def _validated(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _AuditedRetrieve:
    """GET of one record is recorded in the audit trail (who looked at which patient, and when)."""

    audit_action: str

    def retrieve(self, request: Request, pk: str) -> Response:
        instance = self.get_object()
        audit_record(actor=request.user, action=self.audit_action, obj=instance, request=request)
        return Response(self.get_serializer(instance).data)


class _CreateRetrieveUpdate(_AuditedRetrieve, mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET list/detail, POST, PATCH; no PUT and no DELETE (clinical records are kept)."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    create_input: type[Serializer]
    update_input: type[Serializer]

    def create(self, request: Request) -> Response:
        created = self.perform_service_create(_validated(self.create_input, request))
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        updated = self.perform_service_update(self.get_object(), _validated(self.update_input, request))
        return Response(self.get_serializer(updated).data)

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError


@extend_schema(tags=["patients"])
class PatientViewSet(_CreateRetrieveUpdate):
    queryset = Patient.objects.none()  # schema and router only; get_queryset is scoped
    audit_action = Action.VIEW_PATIENT
    serializer_class = s.PatientOutput
    create_input = s.PatientCreateInput
    update_input = s.PatientUpdateInput

    def get_queryset(self):
        query = clean_search_term(self.request.query_params.get("search"))
        return selectors.patient_list(user=self.request.user, query=query)

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="MRN (exact or prefix) or part of the name")]
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(request=s.PatientCreateInput, responses={201: s.PatientOutput})
    def create(self, request: Request) -> Response:
        return super().create(request)

    @extend_schema(request=s.PatientUpdateInput, responses=s.PatientOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        return super().partial_update(request, pk)

    def perform_service_create(self, data: dict[str, Any]) -> Patient:
        return _call(services.patient_create, user=self.request.user, **data)

    def perform_service_update(self, instance: Patient, data: dict[str, Any]) -> Patient:
        return _call(services.patient_update, user=self.request.user, patient=instance, data=data)


@extend_schema(tags=["cases"])
class CaseViewSet(_CreateRetrieveUpdate):
    queryset = Case.objects.none()  # schema and router only; get_queryset is scoped
    audit_action = Action.VIEW_CASE
    serializer_class = s.CaseOutput
    filterset_class = CaseFilter
    create_input = s.CaseCreateInput
    update_input = s.CaseUpdateInput

    def get_queryset(self):
        return selectors.case_list(user=self.request.user)

    @extend_schema(request=s.CaseCreateInput, responses={201: s.CaseOutput})
    def create(self, request: Request) -> Response:
        return super().create(request)

    @extend_schema(request=s.CaseUpdateInput, responses=s.CaseOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        return super().partial_update(request, pk)

    def perform_service_create(self, data: dict[str, Any]) -> Case:
        return _call(services.case_create, user=self.request.user, **data)

    def perform_service_update(self, instance: Case, data: dict[str, Any]) -> Case:
        return _call(services.case_update, user=self.request.user, case=instance, data=data)


@extend_schema(tags=["predictions"])
class PredictionViewSet(_AuditedRetrieve, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Prediction.objects.none()  # schema and router only; get_queryset is scoped
    audit_action = Action.VIEW_PREDICTION
    serializer_class = s.PredictionOutput
    filterset_class = PredictionFilter

    def get_queryset(self):
        return selectors.prediction_list(user=self.request.user)

    @extend_schema(
        request=s.ReviewCreateInput,
        responses={201: s.ReviewOutput},
        description=(
            "Record your read of the image this prediction was made on. Append-only: a later read "
            "supersedes an earlier one, which stays in `reviews` of the prediction."
        ),
    )
    @action(detail=True, methods=["post"], url_path="reviews", serializer_class=s.ReviewOutput)
    def reviews(self, request: Request, pk: str) -> Response:
        prediction = self.get_object()
        data = _validated(s.ReviewCreateInput, request)
        review = _call(services.review_create, prediction=prediction, user=request.user, **data)
        return Response(s.ReviewOutput(review, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TokenLoginView(ObtainAuthToken):
    """``POST auth/token/``: throttled per address, locked out by axes, recorded like a web log-in.

    DRF's own view has no throttle at all; password guessing here must cost as much as on the
    login page. A wrong password reaches the audit trail through ``user_login_failed``.
    """

    throttle_classes = [AnonRateThrottle]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        audit_record(actor=user, action=Action.LOGIN, request=request, via="api-token")
        return Response({"token": token.key})


class RadiographUploadView(APIView):
    """Upload one X-ray to a case; the AI opinion follows asynchronously (poll ``prediction.url``)."""

    parser_classes = [MultiPartParser, FormParser]
    # Uploads cost disk and a model run each: their own, tighter rate on top of the per-user one.
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "uploads"

    @extend_schema(
        tags=["cases"],
        operation_id="cases_radiographs_create",
        request={"multipart/form-data": s.RadiographUploadInput},
        responses={202: s.RadiographOutput, 409: s.DuplicateUploadOutput, 413: s.ErrorOutput},
        description=(
            "Answers 202 with the new radiograph and its queued prediction. The same file (same SHA-256) "
            "already in this case answers 409 with the existing radiograph under `radiograph`; nothing new "
            "is stored and the model does not run again. A file over the size limit answers 413."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        case = selectors.case_for_upload(user=request.user, pk=pk)
        if upload_limits.request_too_large(request):
            raise PayloadTooLarge(upload_limits.too_large_message())
        data = _validated(s.RadiographUploadInput, request)
        try:
            radiograph = services.radiograph_upload(case=case, file=data["image"], user=request.user)
        except services.DuplicateRadiograph as exc:
            existing = s.RadiographOutput(exc.existing, context={"request": request}).data
            body = error_body(exc.messages[0], code="duplicate", radiograph=existing)
            return Response(body, status=status.HTTP_409_CONFLICT)
        except services.UploadRejected as exc:
            if exc.code == "too_large":
                raise PayloadTooLarge(exc.messages[0]) from exc
            raise ValidationError({"image": exc.messages}) from exc
        return Response(
            s.RadiographOutput(radiograph, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )
