"""Developer and `make run` settings: works with no services (SQLite, private Redis)."""

from __future__ import annotations

from fracture_site.settings.base import *  # noqa: F403
from fracture_site.settings.base import DATA_DIR, SECRET_KEY
from fracture_site.settings.envtools import env_bool

DEBUG = env_bool("DJANGO_DEBUG", default=True)
# A fixed key is acceptable only for a local, single-user checkout; production refuses to start without one.
SECRET_KEY = SECRET_KEY or "local-insecure-key-do-not-use-in-production"

# The default SQLite database and media live here; `manage.py` alone must work on a fresh checkout.
DATA_DIR.mkdir(parents=True, exist_ok=True)
