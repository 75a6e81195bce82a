"""Query-string filters. They narrow selector querysets that are already scoped to the user."""

from __future__ import annotations

import django_filters
from django import forms

from diagnosis.models import BodyRegion, Case, Prediction

# The largest id a BIGINT column holds: a bigger number in a query string is a 400, not a 500
# from the database driver ("Python int too large to convert to SQLite INTEGER").
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A whole, positive id within the column's range; anything else is a 400 with a message."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class CaseFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    team = IdFilter(field_name="team_id")
    status = django_filters.ChoiceFilter(choices=Case.Status.choices)
    body_region = django_filters.ChoiceFilter(choices=BodyRegion.choices)

    class Meta:
        model = Case
        fields = ["patient", "team", "status", "body_region"]


class PredictionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Prediction.Status.choices)
    label = django_filters.ChoiceFilter(choices=Prediction.Label.choices)
    case = IdFilter(field_name="radiograph__case_id")
    patient = IdFilter(field_name="radiograph__case__patient_id")
    radiograph = IdFilter(field_name="radiograph_id")
    model_version = django_filters.CharFilter()

    class Meta:
        model = Prediction
        fields = ["status", "label", "case", "patient", "radiograph", "model_version"]
