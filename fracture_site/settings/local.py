"""Developer and `make run` settings: works with no services (SQLite, private Redis)."""

from __future__ import annotations

from fracture_site.settings.base import *  # noqa: F403
from fracture_site.settings.base import SECRET_KEY
from fracture_site.settings.envtools import env_bool

DEBUG = env_bool("DJANGO_DEBUG", default=True)
# A fixed key is acceptable only for a local, single-user checkout; production refuses to start without one.
SECRET_KEY = SECRET_KEY or "local-insecure-key-do-not-use-in-production"
