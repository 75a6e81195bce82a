from __future__ import annotations

from django import forms

from inference.models import ModelVersion
from shadow import selectors
from shadow.models import MAX_RADIOGRAPHS


class ShadowRunStartForm(forms.Form):
    candidate = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(),
        to_field_name="version",
        help_text="Any registered version except the one that made the latest predictions.",
    )
    n = forms.IntegerField(
        label="Radiographs",
        min_value=1,
        max_value=MAX_RADIOGRAPHS,
        initial=200,
        help_text="The last N radiographs with a finished prediction, all teams.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["candidate"].queryset = selectors.candidate_versions()
