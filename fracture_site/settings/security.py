"""Login lockout (django-axes), API throttling, Content-Security-Policy, cache shared by processes."""

from __future__ import annotations

from datetime import timedelta

from csp.constants import NONE, SELF

from fracture_site.settings.envtools import env, env_int

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out credentials before checking them
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("FRACTURE_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("FRACTURE_LOGIN_COOLOFF_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Everything from this origin; no inline script or style anywhere (static/js, static/css only).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}


def cache_settings(url: str) -> dict:
    """Throttle counters live where every web process sees them: Redis when a URL is given (failing
    open, so a Redis restart never turns API requests into 500s), else this process's memory."""
    if url:
        return {"default": {"BACKEND": "fracture_site.cache.FailOpenRedisCache", "LOCATION": url}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


CACHES = cache_settings(env.str("DJANGO_CACHE_URL", default=""))
API_THROTTLE_RATES = {
    "anon": env.str("FRACTURE_API_ANON_RATE", default="30/minute"),
    "user": env.str("FRACTURE_API_USER_RATE", default="600/minute"),
    "uploads": env.str("FRACTURE_API_UPLOAD_RATE", default="120/minute"),
}
