"""Team scoping everywhere: a clinician of another team probes every route with our ids.

The routes come from the URL resolver, so a route added later without a probe here fails
``test_every_route_is_probed``. Admin routes are generated from the admin registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from diagnosis.models import Case, Patient, Prediction, Radiograph, Review, SignOff
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db

SECRETS = (b"VICTIM-0001", b"Victoria Victim")
# Routes anyone may reach; still probed, and still must not leak.
PUBLIC = {"login", "logout", "api-token", "api-schema", "api-docs", "admin:login", "admin:logout"}
# Models whose admin is scoped by team; the prober is given every permission on them.
SCOPED_ADMIN = {"patient", "case", "radiograph", "prediction"}
GONE = "gone"  # 403/404, or the admin's "does not exist" redirect to its index
# Web routes that take the API token besides the log-in: the media the API links to (image_url, overlay_url).
TOKEN_ROUTES = {"diagnosis:radiograph-image", "diagnosis:prediction-overlay"}


@dataclass
class Probe:
    method: str
    url: str
    data: dict | None = None
    expect: tuple[int, ...] | str = (404,)
    json: bool = False
    extra: dict = field(default_factory=dict)


def _route_keys(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[str]:
    """Every route: its name with namespace, or for an unnamed route its full pattern."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _route_keys(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else prefix + str(pattern.pattern)


def _admin_probes(victim, outsider) -> dict[str, list[Probe]]:
    targets = {
        "patient": victim.patient.pk,
        "case": victim.case.pk,
        "radiograph": victim.radiograph.pk,
        "prediction": victim.prediction.pk,
        "user": victim.case.team.user_set.get().pk,
        "group": victim.case.team_id,
    }
    probes: dict[str, list[Probe]] = {}
    for model in admin.site._registry:
        meta = model._meta
        name = f"{meta.app_label}_{meta.model_name}"
        pk = targets.get(meta.model_name, 1)
        scoped = meta.model_name in SCOPED_ADMIN
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        probes[f"admin:{name}_changelist"] = [
            Probe("get", base, {"q": "VICTIM"}, (200,) if scoped else (403,)),
            Probe("get", base, {"team__id__exact": victim.case.team_id}, (200, 302) if scoped else (403,)),
        ]
        can_add = meta.model_name in ("patient", "case")
        add = [Probe("get", base + "add/", None, (200,) if can_add else (403,))]
        if meta.model_name == "patient":  # filing a patient under the victim's team
            data = {"mrn": "X1", "name": "Intruder", "date_of_birth": "1970-01-01", "sex": "male",
                    "team": victim.case.team_id}  # fmt: skip
            add.append(Probe("post", base + "add/", data, (200,)))
        if meta.model_name == "case":  # opening a case on the victim's patient to gain sight of it
            own_team = outsider.groups.get().pk
            data = {"patient": victim.patient.pk, "team": own_team, "body_region": "hip", "status": "open",
                    "radiographs-TOTAL_FORMS": "0", "radiographs-INITIAL_FORMS": "0"}  # fmt: skip
            add.append(Probe("post", base + "add/", data, (200,)))
        probes[f"admin:{name}_add"] = add
        probes[f"admin:{name}_change"] = [Probe("get", f"{base}{pk}/change/", None, GONE)]
        if scoped:
            probes[f"admin:{name}_change"].append(Probe("post", f"{base}{pk}/change/", {"name": "x"}, GONE))
        probes[f"admin:{name}_history"] = [Probe("get", f"{base}{pk}/history/", None, GONE)]
        probes[f"admin:{name}_delete"] = [Probe("post", f"{base}{pk}/delete/", {"post": "yes"}, GONE)]
        probes[f"admin/{meta.app_label}/{meta.model_name}/<path:object_id>/"] = [
            Probe("get", f"{base}{pk}/", None, GONE)
        ]
    user_pk = targets["user"]
    probes["admin:auth_user_password_change"] = [Probe("get", f"/admin/auth/user/{user_pk}/password/", None, (403,))]
    patient_type = ContentType.objects.get_for_model(Patient).pk
    probes.update(
        {
            "admin:index": [Probe("get", "/admin/", None, (200,))],
            "admin:login": [Probe("get", "/admin/login/", None, (200, 302))],
            "admin:logout": [Probe("get", "/admin/logout/", None, (405,))],  # POST would end the session
            "admin:password_change": [Probe("get", "/admin/password_change/", None, (200,))],
            "admin:password_change_done": [Probe("get", "/admin/password_change/done/", None, (200,))],
            "admin:jsi18n": [Probe("get", "/admin/jsi18n/", None, (200,))],
            "admin:autocomplete": [
                Probe(
                    "get",
                    "/admin/autocomplete/",
                    {"app_label": "diagnosis", "model_name": "case", "field_name": "patient", "term": "VICTIM"},
                    (200,),
                ),
            ],
            # Shadow runs are for staff with the shadow permissions, which the prober lacks.
            "admin:shadow_shadowrun_compare": [Probe("get", "/admin/shadow/shadowrun/1/compare/", None, (403,))],
            # Activating a model version needs inference.activate_modelversion, which the prober lacks.
            "admin:inference_modelversion_activate": [
                Probe("get", "/admin/inference/modelversion/1/activate/", None, (403,)),
                Probe("post", "/admin/inference/modelversion/1/activate/", {"reason": "x"}, (403,)),
            ],
            "admin:inference_modelversion_rollback": [
                Probe("get", "/admin/inference/modelversion/rollback/", None, (403,)),
                Probe("post", "/admin/inference/modelversion/rollback/", {"reason": "x"}, (403,)),
            ],
            "admin:view_on_site": [Probe("get", f"/admin/r/{patient_type}/{victim.patient.pk}/", None, (404,))],
            "admin:app_list": [Probe("get", "/admin/diagnosis/", None, (200,)), Probe("get", "/admin/axes/")],
            "admin/(?P<url>.*)$": [Probe("get", "/admin/no-such-page/")],
        }
    )
    return probes


def _probes(victim, outsider) -> dict[str, list[Probe]]:
    p, c, r, pr = victim.patient.pk, victim.case.pk, victim.radiograph.pk, victim.prediction.pk
    own_team = outsider.groups.get().pk

    def upload() -> dict:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return {"image": SimpleUploadedFile("x.png", image_bytes(), content_type="image/png")}

    def dicom_upload() -> dict:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from tests.dicom.builders import dicom_bytes

        return {
            "image": SimpleUploadedFile("IM1", dicom_bytes(patient_id="VICTIM-0001"), content_type="application/dicom")
        }

    patient_form = {"mrn": "X2", "name": "Intruder", "date_of_birth": "1970-01-01", "sex": "male"}
    case_form = {"body_region": "hip", "clinical_question": "x", "status": "closed"}
    probes = {
        # Web pages.
        "login": [Probe("get", "/accounts/login/", None, (200,))],
        "logout": [Probe("get", "/accounts/logout/", None, (405,))],  # POST would end the session
        "diagnosis:worklist": [Probe("get", "/", None, (200,))],
        "diagnosis:agreement": [Probe("get", "/agreement/", None, (200,))],  # staff: own teams' reads only
        "diagnosis:patient-list": [Probe("get", "/patients/", {"q": "VICTIM"}, (200,))],
        "diagnosis:patient-create": [
            Probe("get", "/patients/new/", None, (200,)),
            Probe("post", "/patients/new/", {**patient_form, "team": victim.case.team_id}, (400,)),
        ],
        "diagnosis:patient-detail": [Probe("get", f"/patients/{p}/")],
        "diagnosis:patient-edit": [
            Probe("get", f"/patients/{p}/edit/"),
            Probe("post", f"/patients/{p}/edit/", patient_form),
        ],
        "diagnosis:case-create": [
            Probe("get", f"/patients/{p}/cases/new/"),
            Probe("post", f"/patients/{p}/cases/new/", {"body_region": "hip", "team": own_team}),
        ],
        "diagnosis:case-detail": [Probe("get", f"/cases/{c}/")],
        "diagnosis:case-edit": [Probe("get", f"/cases/{c}/edit/"), Probe("post", f"/cases/{c}/edit/", case_form)],
        "diagnosis:case-upload": [Probe("post", f"/cases/{c}/upload/", upload())],
        "diagnosis:case-sign-off": [
            Probe("post", f"/cases/{c}/sign-off/", {"impression": "x", "final_status": "no_fracture"})
        ],
        "diagnosis:case-report": [Probe("get", f"/cases/{c}/report/")],
        "diagnosis:radiograph-detail": [Probe("get", f"/radiographs/{r}/")],
        "diagnosis:radiograph-image": [
            Probe("get", f"/radiographs/{r}/image/"),
            Probe("get", f"/radiographs/{r}/image/?thumb=1"),
        ],
        "diagnosis:prediction-overlay": [Probe("get", f"/predictions/{pr}/overlay/")],
        "diagnosis:prediction-review": [Probe("post", f"/predictions/{pr}/review/", {"read": "fracture"})],
        # API.
        "api-token": [
            Probe("post", "/api/v1/auth/token/", {"username": "dr_ada", "password": "guess"}, (400,), json=True)
        ],
        "api-schema": [Probe("get", "/api/v1/schema/", None, (200,))],
        "api-docs": [Probe("get", "/api/v1/docs/", None, (200,))],
        "patient-list": [
            Probe("get", "/api/v1/patients/", {"search": "VICTIM"}, (200,)),
            Probe("post", "/api/v1/patients/", {**patient_form, "team": victim.case.team_id}, (400,), json=True),
        ],
        "patient-detail": [
            Probe("get", f"/api/v1/patients/{p}/"),
            Probe("patch", f"/api/v1/patients/{p}/", {"name": "x"}, json=True),
        ],
        "case-list": [
            Probe("get", "/api/v1/cases/", {"patient": p}, (200,)),
            Probe("post", "/api/v1/cases/", {"patient": p, "team": own_team, "body_region": "hip"}, (400,), json=True),
        ],
        "case-detail": [
            Probe("get", f"/api/v1/cases/{c}/"),
            Probe("patch", f"/api/v1/cases/{c}/", case_form, json=True),
        ],
        "case-radiographs": [
            Probe("post", f"/api/v1/cases/{c}/radiographs/", upload()),
            Probe("post", f"/api/v1/cases/{c}/radiographs/", dicom_upload()),
        ],
        "prediction-list": [Probe("get", "/api/v1/predictions/", {"case": c}, (200,))],
        "prediction-detail": [Probe("get", f"/api/v1/predictions/{pr}/")],
        "prediction-reviews": [Probe("post", f"/api/v1/predictions/{pr}/reviews/", {"read": "fracture"}, json=True)],
        "prediction-fhir": [Probe("get", f"/api/v1/predictions/{pr}/fhir/")],
    }
    return {**probes, **_admin_probes(victim, outsider)}


@pytest.fixture
def prober(outsider):
    """The other team's clinician, also admin staff with every permission on the clinical models."""
    outsider.is_staff = True
    outsider.save()
    wanted = [f"{verb}_{model}" for verb in ("view", "add", "change", "delete") for model in SCOPED_ADMIN]
    outsider.user_permissions.add(*Permission.objects.filter(content_type__app_label="diagnosis", codename__in=wanted))
    return outsider


def _send(client: APIClient, probe: Probe, *, follow: bool):
    kwargs = {"format": "json"} if probe.json else {}
    if probe.method == "get":
        return client.get(probe.url, probe.data, follow=follow)
    return getattr(client, probe.method)(probe.url, probe.data, follow=follow, **kwargs)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _snapshot() -> tuple:
    return (
        list(Patient.objects.order_by("pk").values_list("pk", "name", "team")),
        list(Case.objects.order_by("pk").values_list("pk", "patient", "team", "status", "body_region")),
        Radiograph.objects.count(),
        Prediction.objects.count(),
        Review.objects.count(),
        SignOff.objects.count(),
    )


def test_every_route_is_probed(victim, prober):
    missing = set(_route_keys()) - set(_probes(victim, prober))
    assert not missing, f"routes without a scoping probe in {__name__}: {sorted(missing)}"


def test_another_team_gets_nothing_from_any_route(victim, prober):
    client = APIClient()
    client.force_login(prober)
    before = _snapshot()
    failures = []
    for key, probes in _probes(victim, prober).items():
        for probe in probes:
            is_admin = probe.url.startswith("/admin/")
            response = _send(client, probe, follow=is_admin and probe.expect == GONE)
            body = _body(response)
            if probe.expect == GONE:
                landed = response.redirect_chain and response.request["PATH_INFO"] == "/admin/"
                ok = response.status_code in (403, 404) or bool(landed)
            else:
                ok = response.status_code in probe.expect
            leaked = [s for s in SECRETS if s in body]
            if not ok or leaked:
                failures.append(f"{key}: {probe.method.upper()} {probe.url} -> {response.status_code} leaked={leaked}")
    assert not failures, "\n".join(failures)
    assert _snapshot() == before, "a probe changed the victim's records or filed new ones against them"


def test_anonymous_is_sent_to_log_in(victim, prober):
    client = APIClient()
    failures = []
    for key, probes in _probes(victim, prober).items():
        for probe in probes:
            response = _send(client, probe, follow=False)
            location = response.get("Location", "")
            if key in PUBLIC:
                ok = response.status_code in (200, 302, 400, 405)
            elif probe.url.startswith("/admin/"):
                ok = response.status_code == 302 and location.startswith("/admin/login/")
            elif probe.url.startswith("/api/"):
                ok = response.status_code == 401
            else:
                ok = response.status_code == 302 and location.startswith(reverse("login"))
            if not ok or any(s in _body(response) for s in SECRETS):
                failures.append(f"{key}: {probe.method.upper()} {probe.url} -> {response.status_code} {location}")
    assert not failures, "\n".join(failures)


def _takes_token(key: str, probe: Probe) -> bool:
    return probe.url.startswith("/api/") or key in TOKEN_ROUTES


def test_another_teams_token_opens_only_the_api_and_its_media_and_gets_nothing(victim, prober):
    """The probes again with the other team's API token instead of its log-in: the API and the
    media it links to answer as they do to the log-in; every other page still wants a log-in."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=prober).key}")
    before = _snapshot()
    failures = []
    for key, probes in _probes(victim, prober).items():
        for probe in probes:
            response = _send(client, probe, follow=False)
            location = response.get("Location", "")
            if key in PUBLIC:
                ok = response.status_code in (200, 302, 400, 405)
            elif _takes_token(key, probe):
                ok = response.status_code in probe.expect
            elif probe.url.startswith("/admin/"):
                ok = response.status_code == 302 and location.startswith("/admin/login/")
            else:
                ok = response.status_code == 302 and location.startswith(reverse("login"))
            if not ok or any(s in _body(response) for s in SECRETS):
                failures.append(f"{key}: {probe.method.upper()} {probe.url} -> {response.status_code} {location}")
    assert not failures, "\n".join(failures)
    assert _snapshot() == before


def test_a_bad_token_is_401_json_wherever_a_token_is_taken(victim, prober):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    failures = []
    for key, probes in _probes(victim, prober).items():
        for probe in probes:
            if key in PUBLIC or not _takes_token(key, probe):
                continue
            response = _send(client, probe, follow=False)
            if response.status_code != 401 or "detail" not in response.json():
                failures.append(f"{key}: {probe.method.upper()} {probe.url} -> {response.status_code}")
    assert not failures, "\n".join(failures)
