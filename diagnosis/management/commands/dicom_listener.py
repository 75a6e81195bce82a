"""`manage.py dicom_listener`: the DICOM node (Storage SCP with C-ECHO), in the foreground."""

from __future__ import annotations

import signal

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from diagnosis.dicom.scp import STORAGE_SOP_CLASSES, NodeConfig, start_node
from fracture_site.settings.dicom import ae_title as valid_ae_title
from fracture_site.settings.dicom import dicom_port


class Command(BaseCommand):
    help = (
        "Receive radiographs by DICOM C-STORE (CR, DX, RF, intra-oral, secondary capture) and answer C-ECHO. "
        "AE title, port and allowed callers come from DICOM_AE_TITLE, DICOM_PORT and DICOM_ALLOWED_CALLING_AES; "
        "calling AEs are mapped to care teams in the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", help="TCP port (default: DICOM_PORT)")
        parser.add_argument("--ae-title", help="this node's AE title (default: DICOM_AE_TITLE)")
        parser.add_argument("--bind", help="address to listen on (default: DICOM_BIND_ADDRESS)")

    def handle(self, *args: object, **options: str | None) -> None:
        port, title = options["port"], options["ae_title"]
        try:
            config = NodeConfig.from_settings(
                port=dicom_port(port) if port is not None else None,
                ae_title=valid_ae_title("--ae-title", title) if title is not None else None,
                bind_address=options["bind"],
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if config.port is None:
            raise CommandError("no port: set DICOM_PORT or pass --port")
        who = (
            f"unmapped callers filed under '{config.unknown_caller_team}'"
            if config.unknown_caller_team
            else "only calling AEs mapped to a team in the admin"
        )
        if config.allowed_calling_aes:
            who += f", limited to {', '.join(config.allowed_calling_aes)}"
        self.stdout.write(
            f"DICOM node {config.ae_title} listening on {config.bind_address}:{config.port} "
            f"(C-ECHO; C-STORE of {len(STORAGE_SOP_CLASSES)} radiograph SOP classes; {who})"
        )
        # SIGTERM (make run's Ctrl-C, a process manager) stops like Ctrl-C: the server shuts down.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            start_node(config, block=True)  # returns once interrupted (pynetdicom shuts the server down)
        except OSError as exc:
            raise CommandError(f"cannot listen on {config.bind_address}:{config.port}: {exc}") from exc
        except KeyboardInterrupt:
            pass
        self.stdout.write("DICOM node stopped")
