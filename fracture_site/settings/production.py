"""Production: secrets from the environment, HTTPS only, no defaults that hide a mistake."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from fracture_site.settings.base import *  # noqa: F403
from fracture_site.settings.base import SECRET_KEY
from fracture_site.settings.envtools import env, env_bool, env_int
from fracture_site.settings.security import cache_settings

if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")

DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", default=60)  # noqa: F405

# Several web processes: throttle counters must be shared, so Redis by default.
CACHES = cache_settings(env.str("DJANGO_CACHE_URL", default=REDIS_URL))  # noqa: F405

# The DICOM node accepts only calling AEs mapped to a team in the admin: never a fallback team.
DICOM_UNKNOWN_CALLER_TEAM = ""
