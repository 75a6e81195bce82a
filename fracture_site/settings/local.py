"""Developer and `make run` settings: works with no services (SQLite, private Redis)."""

from __future__ import annotations

from fracture_site.settings.base import *  # noqa: F403
from fracture_site.settings.base import DATA_DIR, SECRET_KEY
from fracture_site.settings.envtools import env, env_bool

DEBUG = env_bool("DJANGO_DEBUG", default=True)
# A fixed key is acceptable only for a local, single-user checkout; production refuses to start without one.
SECRET_KEY = SECRET_KEY or "local-insecure-key-do-not-use-in-production"

# The default SQLite database and media live here; `manage.py` alone must work on a fresh checkout.
DATA_DIR.mkdir(parents=True, exist_ok=True)

# The DICOM node of `make run`: on the local host only, and studies from calling AEs with no
# mapping in the admin go to the demo team (the name `demo_setup` creates).
DICOM_BIND_ADDRESS = env.str("DICOM_BIND_ADDRESS", default="127.0.0.1")
DICOM_UNKNOWN_CALLER_TEAM = env.str("DICOM_UNKNOWN_CALLER_TEAM", default="Demo care team")
