"""``GET /api/v1/predictions/{id}/fhir/``: the prediction as a FHIR R4 DiagnosticReport."""

from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.fhir import FHIR_MEDIA_TYPE, prediction_report


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_MEDIA_TYPE
    format = "fhir"


class PredictionFhirView(APIView):
    """The AI opinion as a DiagnosticReport, for the electronic record (team-scoped like the rest)."""

    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    @extend_schema(
        tags=["predictions"],
        operation_id="predictions_fhir_retrieve",
        responses={
            (200, FHIR_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="FHIR R4 DiagnosticReport with a contained Observation (probability, label, "
                "threshold), the model version as a Device and, for DICOM, the ImagingStudy. Status "
                "registered/preliminary/final/cancelled.",
            ),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        prediction = selectors.prediction_get(user=request.user, pk=pk)
        audit_record(actor=request.user, action=Action.VIEW_PREDICTION, obj=prediction, request=request, via="fhir")
        report = prediction_report(prediction, absolute=request.build_absolute_uri)
        return Response(json.loads(report.model_dump_json(exclude_none=True)))
