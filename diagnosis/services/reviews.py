"""The clinician's side of a reading: reads of images and sign-offs of cases.

Both are append-only (``AppendOnlyModel``): a later read or sign-off supersedes the earlier one,
which stays in the history. The AI's own output is never touched. Every write is audited.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from diagnosis import selectors
from diagnosis.audit import Action, audit_record
from diagnosis.models import Case, Prediction, Review, SignOff
from diagnosis.services.records import save_validated


def review_create(*, prediction: Prediction, user: AbstractBaseUser, read: str, note: str = "") -> Review:
    """Record ``user``'s read of the image the prediction was made on; ``Http404`` if not visible."""
    prediction = selectors.prediction_get(user=user, pk=prediction.pk)
    review = Review(prediction=prediction, reader=user, read=read, note=(note or "").strip())
    with transaction.atomic():
        save_validated(review)
        audit_record(
            actor=user,
            action=Action.REVIEW,
            obj=review,
            description=f"Read of radiograph {prediction.radiograph_id}: {review.get_read_display()}",
            read=review.read,
            ai_label=prediction.label,
            agrees_with_ai=review.agrees_with_ai,
        )
    return review


def case_sign_off(*, case: Case, user: AbstractBaseUser, impression: str, final_status: str) -> SignOff:
    """Sign a visible case off with an impression and a final status (a new sign-off amends the last)."""
    selectors.case_ensure_visible(user=user, pk=case.pk)
    sign_off = SignOff(case=case, signed_by=user, impression=(impression or "").strip(), final_status=final_status)
    with transaction.atomic():
        save_validated(sign_off)
        audit_record(
            actor=user,
            action=Action.SIGN_OFF,
            obj=sign_off,
            final_status=sign_off.final_status,
        )
    return sign_off
