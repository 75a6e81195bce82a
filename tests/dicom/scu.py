"""dcmtk's SCU tools as a modality or PACS would run them, and a free port to listen on."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from pydicom import uid

from tests.dicom import builders


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# storescu proposes a compressed transfer syntax only when told which: one option per syntax.
PROPOSE = {
    uid.ExplicitVRLittleEndian: "-x=",
    uid.JPEG2000Lossless: "-xv",
    uid.RLELossless: "-xr",
    uid.JPEGBaseline8Bit: "-xy",
    uid.JPEGLosslessSV1: "-xs",
    uid.DeflatedExplicitVRLittleEndian: "-xd",
}


def storescu(
    config: object,
    *files: Path,
    calling: str = "PACS1",
    called: str | None = None,
    syntax: str = uid.ExplicitVRLittleEndian,
):
    tool = builders.require_tool("storescu")
    command = [tool, "-v", PROPOSE[syntax], "-aet", calling, "-aec", called or config.ae_title]
    command += ["127.0.0.1", str(config.port), *[str(path) for path in files]]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)
