from __future__ import annotations

from django.urls import path

from diagnosis import views

app_name = "diagnosis"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("agreement/", views.agreement_dashboard, name="agreement"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient-edit"),
    path("patients/<int:patient_pk>/cases/new/", views.case_create, name="case-create"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/edit/", views.case_edit, name="case-edit"),
    path("cases/<int:pk>/upload/", views.case_upload, name="case-upload"),
    path("cases/<int:pk>/sign-off/", views.case_sign_off, name="case-sign-off"),
    path("cases/<int:pk>/report/", views.case_report, name="case-report"),
    path("radiographs/<int:pk>/", views.radiograph_detail, name="radiograph-detail"),
    path("radiographs/<int:pk>/image/", views.radiograph_image, name="radiograph-image"),
    path("predictions/<int:pk>/overlay/", views.prediction_overlay, name="prediction-overlay"),
    path("predictions/<int:pk>/review/", views.prediction_review, name="prediction-review"),
]
