"""The upload size policy, in one place: the limit, its message, and how a request is held to it.

The limit is ``settings.FRACTURE_MAX_UPLOAD_BYTES`` (environment ``FRACTURE_MAX_UPLOAD_BYTES``);
nothing else reads that setting. The same message is shown on the case page, in the web form's
answer and in the API's 413.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request

# A multipart request is longer than the file it carries (boundaries, part headers, other fields):
# a declared length within this margin of the limit is left to the streaming check.
MULTIPART_MARGIN = 64 * 1024


def max_upload_bytes() -> int:
    return settings.FRACTURE_MAX_UPLOAD_BYTES


def is_too_large(size: int | None) -> bool:
    return size is not None and size > max_upload_bytes()


def too_large_message() -> str:
    limit = max_upload_bytes()
    if limit >= 1024 * 1024:
        readable = f"{limit / (1024 * 1024):g} MB"
    elif limit >= 1024:
        readable = f"{limit / 1024:g} KB"
    else:
        readable = f"{limit} bytes"
    return f"The file is larger than the {readable} limit."


def dropped_uploads(request: HttpRequest | Request) -> list[str]:
    """Display names of the files ``UploadLimitHandler`` dropped while the body streamed in."""
    return list(getattr(request, "rejected_uploads", []))


def request_too_large(request: HttpRequest | Request) -> bool:
    """Refused from the declared length before reading, else by the handler while streaming.

    Reading ``request.FILES`` parses the body (through the handler) if that has not happened yet.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_upload_bytes() + MULTIPART_MARGIN:
        return True
    return bool(request.FILES is not None and dropped_uploads(request))
