"""The DICOM node: a pynetdicom Storage SCP (and Verification SCP) in front of the upload service.

Each received instance goes through ``dicom_receive``: the same validation, one transaction,
the model run enqueued on commit. Answers follow PS3.4 (C-STORE statuses, Annex B.2.3) and
PS3.8 (association rejection reasons), so the sending PACS knows what happened:

* caller not allowed -> association rejected, "calling AE title not recognised";
* called AE title not ours -> association rejected, "called AE title not recognised";
* a SOP class other than CR/DX/RF/intra-oral/secondary capture -> its presentation context is refused;
* ``0x0000`` stored (or already held: a repeated SOP instance is idempotent);
* ``0x0124`` refused, not authorised (caller lost its mapping while associated);
* ``0xA700`` out of resources (database or storage unavailable, file over the size limit): retry later;
* ``0xA900`` data set does not match SOP class (a CT, MR, multi-frame... inside a radiograph class);
* ``0xC000`` cannot understand (unreadable or undecodable, unsupported transfer syntax, cannot be filed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.db import DatabaseError, close_old_connections, connection
from pynetdicom import AE, evt
from pynetdicom import sop_class as sop
from pynetdicom.events import Event

from inference.dicom import SUPPORTED_TRANSFER_SYNTAXES

logger = logging.getLogger("diagnosis.dicom.node")

STORAGE_SOP_CLASSES = (
    sop.ComputedRadiographyImageStorage,
    sop.DigitalXRayImageStorageForPresentation,
    sop.DigitalXRayImageStorageForProcessing,
    sop.DigitalIntraOralXRayImageStorageForPresentation,
    sop.DigitalIntraOralXRayImageStorageForProcessing,
    sop.XRayRadiofluoroscopicImageStorage,
    sop.SecondaryCaptureImageStorage,
)
TRANSFER_SYNTAXES = sorted(SUPPORTED_TRANSFER_SYNTAXES)

SUCCESS = 0x0000
REFUSED_NOT_AUTHORISED = 0x0124
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
_NOT_MATCHING = {"dicom_modality", "dicom_multiframe", "dicom_no_pixels"}
_RETRY_LATER = {"too_large"}
# Longer than any AE title (16 characters), so no caller can match it: "nobody may associate".
NOBODY = "<no calling AE is authorised>"


@dataclass(frozen=True)
class NodeConfig:
    ae_title: str
    port: int
    bind_address: str = "0.0.0.0"  # noqa: S104 - a PACS on another machine must reach it
    allowed_calling_aes: tuple[str, ...] = ()
    unknown_caller_team: str = ""  # a team name: file unmapped callers there; empty: refuse them

    @classmethod
    def from_settings(cls, **overrides: object) -> NodeConfig:
        values = {
            "ae_title": settings.DICOM_AE_TITLE,
            "port": settings.DICOM_PORT,
            "bind_address": settings.DICOM_BIND_ADDRESS,
            "allowed_calling_aes": tuple(settings.DICOM_ALLOWED_CALLING_AES),
            "unknown_caller_team": settings.DICOM_UNKNOWN_CALLER_TEAM,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


def team_for_caller(calling_ae_title: str, config: NodeConfig) -> Group | None:
    """The team a caller's studies are filed under, or None when the caller is refused."""
    from diagnosis.models import DicomCallingAE

    if config.allowed_calling_aes and calling_ae_title not in config.allowed_calling_aes:
        return None
    mapped = DicomCallingAE.objects.filter(ae_title=calling_ae_title, enabled=True).select_related("team").first()
    if mapped is not None:
        return mapped.team
    if config.unknown_caller_team:
        return Group.objects.filter(name=config.unknown_caller_team).first()
    return None


def authorised_callers(config: NodeConfig) -> list[str]:
    """The calling AE titles that may associate now; ``[]`` means anyone (pynetdicom's convention)."""
    from diagnosis.models import DicomCallingAE

    if config.unknown_caller_team:
        return list(config.allowed_calling_aes)  # anyone, or exactly the allow-list
    mapped = set(DicomCallingAE.objects.filter(enabled=True).values_list("ae_title", flat=True))
    if config.allowed_calling_aes:
        mapped &= set(config.allowed_calling_aes)
    return sorted(mapped) or [NOBODY]


class NodeAE(AE):
    """An AE whose allowed callers are read when each association is negotiated (admin changes apply)."""

    def __init__(self, ae_title: str, callers: Callable[[], list[str]]) -> None:
        super().__init__(ae_title=ae_title)
        self._callers = callers

    @property
    def require_calling_aet(self) -> list[str]:
        try:
            return self._callers()
        except DatabaseError:
            logger.exception("cannot read the allowed calling AEs; refusing the association")
            return [NOBODY]
        finally:
            connection.close()  # association threads must not keep connections open


def _status_for(code: str) -> int:
    if code in _NOT_MATCHING:
        return DATASET_DOES_NOT_MATCH_SOP_CLASS
    if code in _RETRY_LATER:
        return OUT_OF_RESOURCES
    return CANNOT_UNDERSTAND


def handle_store(event: Event, config: NodeConfig) -> int:
    """C-STORE: file the instance through the upload service; the status says what happened."""
    from diagnosis.services.dicom_filing import dicom_receive
    from diagnosis.validation import UploadRejected

    calling = event.assoc.requestor.ae_title.strip()
    sop_instance_uid = str(event.request.AffectedSOPInstanceUID or "unknown")
    close_old_connections()
    try:
        team = team_for_caller(calling, config)
        if team is None:
            logger.warning("C-STORE %s from %s refused: caller not mapped to a team", sop_instance_uid, calling)
            return REFUSED_NOT_AUTHORISED
        upload = ContentFile(event.encoded_dataset(include_meta=True), name=f"{sop_instance_uid}.dcm")
        filed = dicom_receive(team=team, file=upload, calling_ae_title=calling)
    except UploadRejected as exc:
        status = _status_for(exc.code or "")
        logger.warning(
            "C-STORE %s from %s refused (0x%04X): %s", sop_instance_uid, calling, status, " ".join(exc.messages)
        )
        return status
    except (DatabaseError, OSError):
        logger.exception("C-STORE %s from %s failed; the sender may retry", sop_instance_uid, calling)
        return OUT_OF_RESOURCES
    finally:
        connection.close()
    verb = "stored as" if filed.created else "already held as"
    logger.info(
        "C-STORE %s from %s %s radiograph %s (case %s, team %s)",
        sop_instance_uid, calling, verb, filed.radiograph.pk, filed.radiograph.case_id, team.name,
    )  # fmt: skip
    return SUCCESS


def handle_echo(event: Event) -> int:
    logger.info("C-ECHO from %s", event.assoc.requestor.ae_title.strip())
    return SUCCESS


def _log_rejected(event: Event) -> None:
    logger.warning("association from %s refused", event.assoc.requestor.ae_title.strip())


def build_ae(config: NodeConfig) -> NodeAE:
    ae = NodeAE(config.ae_title, lambda: authorised_callers(config))
    ae.require_called_aet = True
    ae.add_supported_context(sop.Verification)
    for sop_class in STORAGE_SOP_CLASSES:
        ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
    return ae


def start_node(config: NodeConfig, *, block: bool) -> object:
    """Serve on ``config.bind_address:config.port``; with ``block=False`` returns the server (``.shutdown()``)."""
    handlers = [
        (evt.EVT_C_STORE, handle_store, [config]),
        (evt.EVT_C_ECHO, handle_echo),
        (evt.EVT_REJECTED, _log_rejected),
    ]
    ae = build_ae(config)
    return ae.start_server((config.bind_address, config.port), block=block, evt_handlers=handlers)
