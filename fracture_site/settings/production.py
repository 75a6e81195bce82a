"""Production: secrets from the environment, HTTPS only, no defaults that hide a mistake."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from fracture_site.settings.base import *  # noqa: F403
from fracture_site.settings.base import SECRET_KEY
from fracture_site.settings.envtools import env, env_bool, env_int

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

# Throttle counters must be shared by every web process: Redis, not process memory. The backend
# fails open, so a Redis restart never turns API requests into 500s.
CACHES = {
    "default": {
        "BACKEND": "fracture_site.cache.FailOpenRedisCache",
        "LOCATION": env.str("DJANGO_CACHE_URL", default=REDIS_URL),  # noqa: F405
    }
}
