"""Query-string filters. They narrow selector querysets that are already scoped to the user."""

from __future__ import annotations

import django_filters

from diagnosis.models import BodyRegion, Case, Prediction


class CaseFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id")
    team = django_filters.NumberFilter(field_name="team_id")
    status = django_filters.ChoiceFilter(choices=Case.Status.choices)
    body_region = django_filters.ChoiceFilter(choices=BodyRegion.choices)

    class Meta:
        model = Case
        fields = ["patient", "team", "status", "body_region"]


class PredictionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Prediction.Status.choices)
    label = django_filters.ChoiceFilter(choices=Prediction.Label.choices)
    case = django_filters.NumberFilter(field_name="radiograph__case_id")
    patient = django_filters.NumberFilter(field_name="radiograph__case__patient_id")
    radiograph = django_filters.NumberFilter(field_name="radiograph_id")
    model_version = django_filters.CharFilter()

    class Meta:
        model = Prediction
        fields = ["status", "label", "case", "patient", "radiograph", "model_version"]
