"""The DICOM node (``manage.py dicom_listener``): AE title, port, who may send.

``DICOM_PORT`` empty turns the node off in ``make run``. Calling AE titles are mapped to care
teams in the admin (DICOM calling AEs); ``DICOM_ALLOWED_CALLING_AES`` (comma-separated) further
limits who may associate at all. A caller with no mapping is filed under
``DICOM_UNKNOWN_CALLER_TEAM`` where that is set (the demo team in ``make run``) and refused
otherwise (always in production).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from fracture_site.settings.envtools import env


def ae_title(name: str, raw: str) -> str:
    """An AE title: 1-16 characters of printable ASCII, no backslash (PS3.5 AE value representation)."""
    value = raw.strip()
    if not 1 <= len(value) <= 16 or "\\" in value or not all(32 <= ord(ch) < 127 for ch in value):
        raise ImproperlyConfigured(f"{name}={raw!r} is not an AE title (1-16 printable ASCII characters, no '\\')")
    return value


def dicom_port(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ImproperlyConfigured(f"DICOM_PORT={raw!r} is not a port number (1-65535, or empty for no listener)")
    return int(value)


DICOM_AE_TITLE = ae_title("DICOM_AE_TITLE", env.str("DICOM_AE_TITLE", default="FRACTURE"))
DICOM_PORT = dicom_port(env.str("DICOM_PORT", default="11112"))
DICOM_BIND_ADDRESS = env.str("DICOM_BIND_ADDRESS", default="0.0.0.0")  # noqa: S104 - a PACS must reach it
DICOM_ALLOWED_CALLING_AES = [
    ae_title("DICOM_ALLOWED_CALLING_AES", item) for item in env.list("DICOM_ALLOWED_CALLING_AES", default=[])
]
DICOM_UNKNOWN_CALLER_TEAM = env.str("DICOM_UNKNOWN_CALLER_TEAM", default="")
