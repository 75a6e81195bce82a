"""factory_boy factories for the diagnosis domain."""

from __future__ import annotations

import datetime
import hashlib
import io

import factory
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from PIL import Image

from diagnosis.models import BodyRegion, Case, Patient, Prediction, Radiograph, Sex


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), variant: int = 0) -> bytes:
    """A small, valid grey image: a bright bar on black, like a bone on film.

    Different ``variant`` numbers give different bytes (one pixel differs): a case refuses a
    second copy of the same file, so tests that upload several images to one case need them.
    """
    image = Image.new("L", size, 0)
    image.paste(200, (size[0] // 3, 0, 2 * size[0] // 3, size[1]))
    if variant:
        image.putpixel((0, 0), variant % 256)
        image.putpixel((1, 0), variant // 256 % 256)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Care team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A clinician; ``UserFactory(teams=[team])`` makes them a member."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"clinician{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def teams(self, create: bool, extracted: list[Group] | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(*extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    name = factory.Sequence(lambda n: f"Patient {n}")
    date_of_birth = datetime.date(1970, 1, 1)
    sex = Sex.FEMALE
    team = factory.SubFactory(TeamFactory)


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    patient = factory.SubFactory(PatientFactory)
    team = factory.SelfAttribute("patient.team")
    body_region = BodyRegion.WRIST
    clinical_question = "Fall on outstretched hand."


class RadiographFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Radiograph
        exclude = ("content",)

    case = factory.SubFactory(CaseFactory)
    content = factory.LazyFunction(image_bytes)
    format = "PNG"
    width = 64
    height = 48
    original_filename = "wrist.png"
    image = factory.LazyAttribute(lambda r: ContentFile(r.content, name="ignored.png"))
    sha256 = factory.LazyAttribute(lambda r: hashlib.sha256(r.content).hexdigest())
    size_bytes = factory.LazyAttribute(lambda r: len(r.content))


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    radiograph = factory.SubFactory(RadiographFactory)
    status = Prediction.Status.QUEUED

    class Params:
        fractured = factory.Trait(
            status=Prediction.Status.SUCCEEDED,
            label=Prediction.Label.FRACTURED,
            probability=0.9,
            threshold=0.5,
            model_version="test",
        )
        not_fractured = factory.Trait(
            status=Prediction.Status.SUCCEEDED,
            label=Prediction.Label.NOT_FRACTURED,
            probability=0.1,
            threshold=0.5,
            model_version="test",
        )
