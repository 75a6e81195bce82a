"""DICOM test files made from the shared dataset's real X-rays (or a synthetic bar when absent).

Uncompressed, deflated, RLE and JPEG 2000 files are written with pydicom (and the openjpeg
plugin's encoder); JPEG baseline wraps a Pillow JPEG in encapsulated pixel data; JPEG lossless
comes from dcmtk's ``dcmcjpeg`` (Debian package ``dcmtk``).
"""

from __future__ import annotations

import datetime
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import uid as dicom_uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate

DATASET = (Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "bone-fracture").resolve()
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def require_tool(name: str) -> str:
    """A Debian tool the test needs: skipped locally when missing, a failure in CI."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run installs dcmtk and orthanc")
        pytest.skip(f"{name} is not installed (apt-get install dcmtk orthanc)")
    return path


def xray(size: int = 256) -> Image.Image:
    """A real radiograph from the shared dataset, greyscale, at most ``size`` pixels wide."""
    found = sorted(DATASET.glob("test/fractured/*.jpg"))[:1]
    if found:
        image = Image.open(found[0]).convert("L")
        image.thumbnail((size, size))
        return image
    image = Image.new("L", (size, size * 3 // 4), 0)
    image.paste(200, (size // 3, 0, 2 * size // 3, size * 3 // 4))
    return image


def header(
    *,
    modality: str = "CR",
    sop_class: str = CR_IMAGE_STORAGE,
    patient_id: str = "MRN-DCM-1",
    patient_name: str = "Lovelace^Ada",
    birth_date: str = "19851210",
    sex: str = "F",
    body_part: str = "WRIST",
    study_uid: str | None = None,
    accession: str = "ACC-1",
    sop_uid: str | None = None,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or dicom_uid.generate_uid()
    ds.StudyInstanceUID = study_uid or dicom_uid.generate_uid()
    ds.SeriesInstanceUID = dicom_uid.generate_uid()
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = birth_date
    ds.PatientSex = sex
    ds.BodyPartExamined = body_part
    ds.AccessionNumber = accession
    ds.StudyDate = datetime.date.today().strftime("%Y%m%d")
    ds.StudyDescription = "XR WRIST 2 VIEWS"
    ds.InstitutionName = "St Elsewhere General Hospital"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def _pixels(ds: Dataset, array: np.ndarray, *, photometric: str, bits_stored: int) -> None:
    ds.Rows, ds.Columns = array.shape[:2]
    ds.SamplesPerPixel = 3 if array.ndim == 3 else 1
    if array.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if array.dtype == np.uint8 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = array.tobytes()


def _file(ds: Dataset, transfer_syntax: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_bytes(
    transfer_syntax: str = dicom_uid.ExplicitVRLittleEndian,
    *,
    image: Image.Image | None = None,
    photometric: str = "MONOCHROME2",
    **fields: object,
) -> bytes:
    """An 8-bit CR (by default) in the given transfer syntax."""
    image = image or xray()
    ds = header(**fields)
    if transfer_syntax == dicom_uid.JPEGBaseline8Bit:
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=92)
        _pixels(ds, np.asarray(image), photometric=photometric, bits_stored=8)
        if image.mode == "RGB":
            ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PixelData = encapsulate([jpeg.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        return to_bytes(_file(ds, transfer_syntax))
    array = np.asarray(image)
    if photometric == "MONOCHROME1":
        array = 255 - array
    _pixels(ds, array, photometric=photometric, bits_stored=8)
    if transfer_syntax in (dicom_uid.RLELossless, dicom_uid.JPEG2000Lossless, dicom_uid.JPEG2000):
        _file(ds, dicom_uid.ExplicitVRLittleEndian)
        kwargs = {"j2k_cr": [5]} if transfer_syntax == dicom_uid.JPEG2000 else {}
        ds.compress(transfer_syntax, **kwargs)
        return to_bytes(ds)
    return to_bytes(_file(ds, transfer_syntax))


def sixteen_bit_with_window(**fields: object) -> bytes:
    """12 bits stored in 16, rescaled, with a window that shows only the middle of the range."""
    grey = np.asarray(xray()).astype(np.uint16) * 16  # 0..4080
    ds = header(modality="DX", sop_class=DX_IMAGE_STORAGE, **fields)
    _pixels(ds, grey, photometric="MONOCHROME2", bits_stored=12)
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1000
    ds.WindowCenter = 1040  # after rescale: stored 2040, the middle of 0..4080
    ds.WindowWidth = 2000
    return to_bytes(_file(ds, dicom_uid.ExplicitVRLittleEndian))


def with_voi_lut(**fields: object) -> bytes:
    """12 bits stored with a 16-bit VOI LUT (which wins over a window) that saturates at 2048."""
    grey = np.asarray(xray()).astype(np.uint16) * 16
    ds = header(modality="DX", sop_class=DX_IMAGE_STORAGE, **fields)
    _pixels(ds, grey, photometric="MONOCHROME2", bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 100, 10  # ignored: the LUT is preferred
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = [min(65535, value * 32) for value in range(4096)]
    ds.VOILUTSequence = [item]
    ds.VOILUTSequence[0]["LUTData"].VR = "US"
    return to_bytes(_file(ds, dicom_uid.ExplicitVRLittleEndian))


def ct_slice(**fields: object) -> bytes:
    grey = np.asarray(xray(128)).astype(np.uint16) * 8
    ds = header(modality="CT", sop_class=CT_IMAGE_STORAGE, body_part="HEAD", **fields)
    _pixels(ds, grey, photometric="MONOCHROME2", bits_stored=12)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    return to_bytes(_file(ds, dicom_uid.ExplicitVRLittleEndian))


def multi_frame(**fields: object) -> bytes:
    frames = np.stack([np.asarray(xray(64))] * 3)
    ds = header(**fields)
    _pixels(ds, frames[0], photometric="MONOCHROME2", bits_stored=8)
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    return to_bytes(_file(ds, dicom_uid.ExplicitVRLittleEndian))


def unsupported_syntax(**fields: object) -> bytes:
    """Header says MPEG-2 video: no decoder exists for it here."""
    ds = header(**fields)
    _pixels(ds, np.asarray(xray(64)), photometric="MONOCHROME2", bits_stored=8)
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    return to_bytes(_file(ds, dicom_uid.MPEG2MPML))


def dcmtk_convert(data: bytes, tool: str, *args: str, tmp_path: Path) -> bytes:
    """Run a dcmtk converter (``dcmcjpeg +e1`` etc.) on a file and return the result."""
    executable = require_tool(tool)
    source, target = tmp_path / "in.dcm", tmp_path / "out.dcm"
    source.write_bytes(data)
    subprocess.run([executable, *args, str(source), str(target)], check=True, capture_output=True, timeout=60)
    return target.read_bytes()
