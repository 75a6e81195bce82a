"""Input and output shapes of the API. No rules here: views pass validated data to services."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnosis import selectors
from diagnosis.forms import CLINICAL_QUESTION_MAX_LENGTH
from diagnosis.models import (
    NOTE_MAX_LENGTH,
    BodyRegion,
    Case,
    OperatingPoint,
    Patient,
    Prediction,
    Radiograph,
    Review,
    Sex,
)


class _VisiblePrimaryKey(serializers.PrimaryKeyRelatedField):
    """A primary key resolved through a selector: another team's object reads as non-existent."""

    def get_queryset(self):
        user = self.context["request"].user
        if self.queryset.model is Patient:
            return selectors.patient_list(user=user)
        return selectors.filing_teams(user=user)


def _absolute(serializer: serializers.Serializer, path: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


# Patients -------------------------------------------------------------------------------------


class PatientOutput(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "mrn", "name", "date_of_birth", "sex"]
        read_only_fields = fields


class PatientCreateInput(serializers.Serializer):
    mrn = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    date_of_birth = serializers.DateField()
    sex = serializers.ChoiceField(choices=Sex.choices, default=Sex.UNKNOWN)
    team = _VisiblePrimaryKey(
        queryset=Group.objects.all(), required=False, help_text="Care team; optional when you are in exactly one."
    )


class PatientUpdateInput(serializers.Serializer):
    mrn = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False)
    date_of_birth = serializers.DateField(required=False)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)


# Cases ----------------------------------------------------------------------------------------


class CaseOutput(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "patient", "team", "body_region", "clinical_question", "status", "created_at", "updated_at"]
        read_only_fields = fields


class CaseCreateInput(serializers.Serializer):
    patient = _VisiblePrimaryKey(queryset=Patient.objects.all())
    team = _VisiblePrimaryKey(
        queryset=Group.objects.all(), required=False, help_text="Care team; optional when you are in exactly one."
    )
    body_region = serializers.ChoiceField(choices=BodyRegion.choices)
    clinical_question = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=CLINICAL_QUESTION_MAX_LENGTH
    )


class CaseUpdateInput(serializers.Serializer):
    body_region = serializers.ChoiceField(choices=BodyRegion.choices, required=False)
    clinical_question = serializers.CharField(allow_blank=True, required=False, max_length=CLINICAL_QUESTION_MAX_LENGTH)
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)


# Radiographs and predictions ------------------------------------------------------------------


class ReviewOutput(serializers.ModelSerializer):
    reader = serializers.CharField(source="reader.username", read_only=True, help_text="Username of the clinician.")
    agrees_with_ai = serializers.BooleanField(
        read_only=True, allow_null=True, help_text="Null when the read is uncertain or the AI has no opinion."
    )

    class Meta:
        model = Review
        fields = ["id", "prediction", "reader", "read", "note", "agrees_with_ai", "created_at"]
        read_only_fields = fields


class ReviewCreateInput(serializers.Serializer):
    read = serializers.ChoiceField(choices=Review.Read.choices)
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=NOTE_MAX_LENGTH)


class PredictionOutput(serializers.ModelSerializer):
    case = serializers.IntegerField(source="radiograph.case_id", read_only=True)
    url = serializers.SerializerMethodField()
    overlay_url = serializers.SerializerMethodField(
        help_text=(
            "Heat map (class activation map) as a transparent PNG covering the image: the regions that drove "
            "the score, not a fracture outline. Same authentication and team scoping as the image; null when "
            "the model version makes none or the run has not succeeded."
        )
    )
    reviews = ReviewOutput(many=True, read_only=True, help_text="Clinicians' reads, newest first (append-only).")
    operating_point = serializers.ChoiceField(
        choices=OperatingPoint.choices,
        read_only=True,
        help_text="The care team's operating point (model card threshold).",
    )
    operating_threshold = serializers.FloatField(
        read_only=True, allow_null=True, help_text="The model card's threshold at the team's operating point."
    )
    threshold_name = serializers.CharField(
        read_only=True,
        help_text="Which of the model card's thresholds `threshold` is (the model's operating point when it ran, "
        "e.g. `balanced`); empty until the run succeeds.",
    )
    label_at_operating_point = serializers.ChoiceField(
        source="label_at_point",
        choices=Prediction.Label.choices,
        read_only=True,
        allow_null=True,
        help_text="`label` re-read at `operating_threshold`; `label` itself is what the model said at `threshold`.",
    )

    class Meta:
        model = Prediction
        fields = [
            "id",
            "url",
            "radiograph",
            "case",
            "status",
            "label",
            "probability",
            "threshold",
            "threshold_name",
            "model_version",
            "inference_ms",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "operating_point",
            "operating_threshold",
            "label_at_operating_point",
            "overlay_url",
            "reviews",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, prediction: Prediction) -> str:
        return _absolute(self, reverse("prediction-detail", args=[prediction.pk]))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_overlay_url(self, prediction: Prediction) -> str | None:
        if not prediction.overlay:
            return None
        return _absolute(self, reverse("diagnosis:prediction-overlay", args=[prediction.pk]))


class PredictionSummary(PredictionOutput):
    class Meta(PredictionOutput.Meta):
        fields = ["id", "status", "url"]
        read_only_fields = fields


class RadiographOutput(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField(
        help_text=(
            "The picture as shown to clinicians: the uploaded pixels without metadata (a DICOM file as a PNG of "
            "its display rendering). Same authentication (token or log-in) and team scoping as the API."
        )
    )
    prediction = serializers.SerializerMethodField()

    class Meta:
        model = Radiograph
        fields = [
            "id",
            "case",
            "original_filename",
            "format",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "uploaded_at",
            "image_url",
            "prediction",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_image_url(self, radiograph: Radiograph) -> str:
        return _absolute(self, reverse("diagnosis:radiograph-image", args=[radiograph.pk]))

    @extend_schema_field(PredictionSummary(allow_null=True))
    def get_prediction(self, radiograph: Radiograph) -> dict | None:
        current = radiograph.current_prediction
        return PredictionSummary(current, context=self.context).data if current else None


class RadiographUploadInput(serializers.Serializer):
    image = serializers.FileField(
        help_text="A JPEG, PNG or DICOM radiograph (any content type): the content decides, not the extension."
    )


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()


class DuplicateUploadOutput(ErrorOutput):
    code = serializers.ChoiceField(choices=["duplicate"])
    radiograph = RadiographOutput(help_text="The radiograph already stored in this case with the same SHA-256.")
