"""Django REST Framework and OpenAPI settings."""

from __future__ import annotations

from fracture_site.settings.security import API_THROTTLE_RATES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "diagnosis.api.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": API_THROTTLE_RATES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "diagnosis.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "diagnosis.api.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Fracture triage API",
    "DESCRIPTION": (
        "Decision support only: not a diagnosis. The clinician decides.\n\n"
        "Input: fields a request body does not define (including read-only ones such as `id` or "
        "`team` on PATCH) are ignored; wrong types, unknown choices and out-of-range ids are a 400 "
        "with field errors; `page_size` is capped at 100."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a "status" field with different choices; name their enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "diagnosis.models.CaseStatus",
        "PredictionStatusEnum": "diagnosis.models.PredictionStatus",
        "LabelEnum": "diagnosis.models.PredictionLabel",
    },
}
