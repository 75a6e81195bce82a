"""REST API v1 (DESIGN.md, contracts). Mounted at /api/v1/ without a namespace."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from diagnosis.api import views
from diagnosis.api.fhir import PredictionFhirView

router = SimpleRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("cases", views.CaseViewSet, basename="case")
router.register("predictions", views.PredictionViewSet, basename="prediction")

urlpatterns = [
    path("auth/token/", views.TokenLoginView.as_view(), name="api-token"),
    path("cases/<int:pk>/radiographs/", views.RadiographUploadView.as_view(), name="case-radiographs"),
    path("predictions/<int:pk>/fhir/", PredictionFhirView.as_view(), name="prediction-fhir"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
]
