"""Web forms: shape and types of input only. Rules live in diagnosis.services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import Group

from diagnosis.models import IMPRESSION_MAX_LENGTH, NOTE_MAX_LENGTH, BodyRegion, Case, FinalStatus, ReadChoice, Sex

# A clinical question is a few sentences; the cap keeps a scripted client from storing megabytes.
CLINICAL_QUESTION_MAX_LENGTH = 5000


class IsoDateInput(forms.DateInput):
    """``<input type="date">``: browsers accept only ISO values (YYYY-MM-DD), whatever the locale.

    Django's DateInput renders the locale's first input format (en-gb: 09/12/1946), which a date
    input rejects as empty, so an unchanged edit would lose the stored date.
    """

    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class TeamChoiceMixin:
    """A team field limited to the user's teams, hidden when there is only one to choose."""

    def setup_team(self, teams: list[Group]) -> None:
        field = self.fields["team"]
        field.queryset = Group.objects.filter(pk__in=[t.pk for t in teams]).order_by("name")
        if len(teams) == 1:
            field.initial = teams[0]
            field.widget = forms.HiddenInput()


class PatientForm(TeamChoiceMixin, forms.Form):
    mrn = forms.CharField(label="MRN", max_length=64, help_text="Medical record number, unique per patient.")
    name = forms.CharField(max_length=200)
    date_of_birth = forms.DateField(widget=IsoDateInput())
    sex = forms.ChoiceField(choices=Sex.choices, initial=Sex.UNKNOWN)
    team = forms.ModelChoiceField(queryset=Group.objects.none(), label="Care team")

    def __init__(self, *args, teams: list[Group], editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["team"]
        else:
            self.setup_team(teams)


class CaseForm(TeamChoiceMixin, forms.Form):
    # A blank first choice: a pre-selected "Wrist" would be saved by anyone who did not look.
    body_region = forms.ChoiceField(choices=[("", "Choose the body region"), *BodyRegion.choices])
    clinical_question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=CLINICAL_QUESTION_MAX_LENGTH
    )
    team = forms.ModelChoiceField(queryset=Group.objects.none(), label="Care team")
    status = forms.ChoiceField(choices=Case.Status.choices, initial=Case.Status.OPEN)

    def __init__(self, *args, teams: list[Group], editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["team"]
        else:
            del self.fields["status"]
            self.setup_team(teams)


class ReviewForm(forms.Form):
    """The clinician's read of one image; no choice is pre-selected, so nobody agrees by default."""

    read = forms.ChoiceField(choices=ReadChoice.choices, widget=forms.RadioSelect, label="Your read")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTE_MAX_LENGTH, label="Note (optional)"
    )


class SignOffForm(forms.Form):
    impression = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=IMPRESSION_MAX_LENGTH)
    final_status = forms.ChoiceField(choices=[("", "Choose the final status"), *FinalStatus.choices])
