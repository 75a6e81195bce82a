"""DICOM Part 10 files -> display pixels: the one DICOM decoder of the platform.

Sniffed by content (``DICM`` at offset 128), never by extension. Only single-frame projection
radiographs are accepted; their stored values go through the modality LUT (rescale), then the
VOI LUT or the first window when the header has one (else the full range), MONOCHROME1 is
inverted, and the result is an 8-bit PIL image (``L``, or ``RGB`` for colour data). That image
then goes through ``inference.imaging.to_model_input`` like any JPEG or PNG.
"""

from __future__ import annotations

import datetime
import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from PIL import Image
from pydicom import uid as dicom_uid
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from inference.imaging import ImageDecodeError, open_image

DICM_OFFSET = 128
DICOM_SNIFF_BYTES = DICM_OFFSET + 4

# Transfer syntaxes departments send, each with a decoder installed (pydicom's own, or the
# pylibjpeg plugins: libjpeg for JPEG and JPEG-LS, openjpeg for JPEG 2000, rle for RLE).
SUPPORTED_TRANSFER_SYNTAXES = frozenset(
    {
        dicom_uid.ImplicitVRLittleEndian,
        dicom_uid.ExplicitVRLittleEndian,
        dicom_uid.DeflatedExplicitVRLittleEndian,
        dicom_uid.ExplicitVRBigEndian,
        dicom_uid.JPEGBaseline8Bit,
        dicom_uid.JPEGExtended12Bit,
        dicom_uid.JPEGLossless,
        dicom_uid.JPEGLosslessSV1,
        dicom_uid.JPEGLSLossless,
        dicom_uid.JPEGLSNearLossless,
        dicom_uid.JPEG2000Lossless,
        dicom_uid.JPEG2000,
        dicom_uid.HTJ2KLossless,
        dicom_uid.HTJ2KLosslessRPCL,
        dicom_uid.HTJ2K,
        dicom_uid.RLELossless,
    }
)

# Projection radiography: computed and digital radiography, fluoroscopy spot images, intra-oral
# and panoramic X-ray, and secondary captures of such images. Cross-sectional modalities
# (CT, MR, PET, NM, US) are volumes or something else entirely: the model never saw them.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "RF", "IO", "PX", "OT"})
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT")


class DicomRejected(ImageDecodeError):
    """A DICOM file we cannot or must not use; ``code`` says why, the message says it to a person."""

    def __init__(self, message: str, *, code: str = "dicom_unreadable") -> None:
        super().__init__(message)
        self.code = code


def is_dicom(head: bytes) -> bool:
    """A DICOM Part 10 file: 128-byte preamble, then ``DICM``."""
    return head[DICM_OFFSET:DICOM_SNIFF_BYTES] == b"DICM"


def _text(value: object, limit: int = 200) -> str:
    """A header value as display text: no control characters, capped."""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(item) for item in value)
    raw = str(value)
    return "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C")).strip()[:limit]


def _date(value: object) -> datetime.date | None:
    raw = _text(value, 16).replace(".", "")
    try:
        return datetime.datetime.strptime(raw[:8], "%Y%m%d").date()
    except ValueError:
        return None


def person_name(value: object) -> str:
    """DICOM PN ``Family^Given^Middle^Prefix^Suffix`` -> ``Prefix Given Middle Family Suffix``."""
    raw = _text(value).split("=")[0]  # alphabetic representation only
    parts = [part.strip() for part in raw.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    return " ".join(part for part in (prefix, given, middle, family, suffix) if part)


# The tags the metadata view lists, in this order: (keyword, label).
MAIN_TAGS: tuple[tuple[str, str], ...] = (
    ("PatientID", "Patient ID"),
    ("PatientName", "Patient name"),
    ("PatientBirthDate", "Birth date"),
    ("PatientSex", "Sex"),
    ("StudyDate", "Study date"),
    ("StudyDescription", "Study"),
    ("AccessionNumber", "Accession number"),
    ("Modality", "Modality"),
    ("BodyPartExamined", "Body part"),
    ("ViewPosition", "View"),
    ("ImageLaterality", "Laterality"),
    ("InstitutionName", "Institution"),
    ("Manufacturer", "Manufacturer"),
    ("ManufacturerModelName", "Model"),
    ("StudyInstanceUID", "Study UID"),
    ("SeriesInstanceUID", "Series UID"),
    ("SOPInstanceUID", "Instance UID"),
    ("PhotometricInterpretation", "Photometric interpretation"),
    ("BitsStored", "Bits stored"),
    ("Rows", "Rows"),
    ("Columns", "Columns"),
    ("WindowCenter", "Window centre"),
    ("WindowWidth", "Window width"),
    ("RescaleSlope", "Rescale slope"),
    ("RescaleIntercept", "Rescale intercept"),
)


@dataclass(frozen=True)
class DicomHeader:
    """What the platform uses from a header: identity of the instance, filing, display."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    accession_number: str
    modality: str
    patient_id: str
    patient_name: str
    patient_birth_date: datetime.date | None
    patient_sex: str
    body_part: str
    study_description: str
    transfer_syntax_uid: str
    rows: int
    columns: int
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def transfer_syntax_name(self) -> str:
        return dicom_uid.UID(self.transfer_syntax_uid).name

    @property
    def sop_class_name(self) -> str:
        return dicom_uid.UID(self.sop_class_uid).name


def read_dataset(data: bytes) -> Dataset:
    """Parse a Part 10 file (pixel data not decoded yet)."""
    if not is_dicom(data[:DICOM_SNIFF_BYTES]):
        raise DicomRejected("not a DICOM file (no DICM preamble)")
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        dataset.file_meta.TransferSyntaxUID  # noqa: B018 - a file without it cannot be decoded
    except (InvalidDicomError, AttributeError, KeyError, ValueError, TypeError, EOFError, OSError) as exc:
        raise DicomRejected(f"the DICOM header cannot be read ({exc})") from exc
    return dataset


def header_of(dataset: Dataset) -> DicomHeader:
    tags = {}
    for keyword, label in MAIN_TAGS:
        value = dataset.get(keyword)
        if value not in (None, ""):
            tags[label] = _text(value)
    transfer_syntax = dicom_uid.UID(str(dataset.file_meta.TransferSyntaxUID))
    tags["Transfer syntax"] = f"{transfer_syntax.name} ({transfer_syntax})"
    sop_class = dicom_uid.UID(_text(dataset.get("SOPClassUID")))
    if sop_class:
        tags["SOP class"] = sop_class.name
    return DicomHeader(
        sop_instance_uid=_text(dataset.get("SOPInstanceUID"), 64),
        sop_class_uid=str(sop_class),
        study_instance_uid=_text(dataset.get("StudyInstanceUID"), 64),
        series_instance_uid=_text(dataset.get("SeriesInstanceUID"), 64),
        accession_number=_text(dataset.get("AccessionNumber"), 16),
        modality=_text(dataset.get("Modality"), 16).upper(),
        patient_id=_text(dataset.get("PatientID"), 64),
        patient_name=person_name(dataset.get("PatientName")),
        patient_birth_date=_date(dataset.get("PatientBirthDate")),
        patient_sex=_text(dataset.get("PatientSex"), 16).upper(),
        body_part=_text(dataset.get("BodyPartExamined"), 16).upper(),
        study_description=_text(dataset.get("StudyDescription"), 64),
        transfer_syntax_uid=str(transfer_syntax),
        rows=int(dataset.get("Rows") or 0),
        columns=int(dataset.get("Columns") or 0),
        tags=tags,
    )


def check_acceptable(dataset: Dataset, header: DicomHeader, *, max_pixels: int | None) -> None:
    """Refuse what is not a single-frame projection radiograph we can decode, before decoding it."""
    transfer_syntax = dicom_uid.UID(header.transfer_syntax_uid)
    if transfer_syntax not in SUPPORTED_TRANSFER_SYNTAXES:
        raise DicomRejected(
            f"the transfer syntax {transfer_syntax.name} ({transfer_syntax}) is not supported; "
            "send it uncompressed, JPEG, JPEG-LS, JPEG 2000 or RLE",
            code="dicom_transfer_syntax",
        )
    if header.modality and header.modality not in PROJECTION_MODALITIES:
        raise DicomRejected(
            f"{header.modality} images are not accepted: only projection radiographs (CR, DX, RF and similar)",
            code="dicom_modality",
        )
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames > 1:
        raise DicomRejected(
            f"the file holds {frames} frames; only single-frame radiographs are accepted", code="dicom_multiframe"
        )
    if "PixelData" not in dataset:
        raise DicomRejected("the DICOM file has no image (no pixel data)", code="dicom_no_pixels")
    photometric = _text(dataset.get("PhotometricInterpretation")).upper()
    if photometric not in (*_MONOCHROME, *_COLOUR):
        raise DicomRejected(f"photometric interpretation {photometric or '(none)'} is not supported")
    bits = int(dataset.get("BitsStored") or 0)
    if not 8 <= bits <= 16:
        raise DicomRejected(f"{bits} bits stored per pixel is not supported (8 to 16 are)")
    width, height = header.columns, header.rows
    if width <= 0 or height <= 0:
        raise DicomRejected("the DICOM file gives no image size")
    if max_pixels is not None and width * height > max_pixels:
        raise DicomRejected(f"image is {width}x{height} pixels, more than the limit of {max_pixels}")


def _window(values: np.ndarray, dataset: Dataset) -> np.ndarray | None:
    """The first window of the header as [0, 1] values (PS3.3 C.11.2.1.2), or None without one."""
    if "WindowCenter" not in dataset or "WindowWidth" not in dataset:
        return None
    centre, width = dataset.WindowCenter, dataset.WindowWidth
    centre = float(centre[0] if isinstance(centre, pydicom.multival.MultiValue) else centre)
    width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
    function = _text(dataset.get("VOILUTFunction") or "LINEAR").upper()
    if function == "SIGMOID" and width > 0:
        return 1.0 / (1.0 + np.exp(-4.0 * (values - centre) / width))
    if function == "LINEAR_EXACT" and width > 0:
        return np.clip((values - centre) / width + 0.5, 0.0, 1.0)
    if width < 1:
        return None  # invalid for LINEAR: fall back to the full range
    return np.clip((values - (centre - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


def _full_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _voi_lut(values: np.ndarray, dataset: Dataset) -> np.ndarray:
    """The first VOI LUT of the header, scaled to [0, 1] by the largest value the LUT gives."""
    # A LUT is indexed by integers: rescaled values are rounded first (pydicom warns on floats).
    indices = np.rint(values).astype(np.int64) if values.dtype.kind == "f" else values
    item = dataset.VOILUTSequence[0]
    lut = np.asarray(item.LUTData if isinstance(item.LUTData, list | tuple) else [item.LUTData], dtype=np.float64)
    top = float(lut.max()) if lut.size and lut.max() > 0 else float(2 ** int(item.LUTDescriptor[2]) - 1)
    return np.clip(apply_voi_lut(indices, dataset, prefer_lut=True).astype(np.float64) / top, 0.0, 1.0)


def _grey(pixels: np.ndarray, dataset: Dataset) -> np.ndarray:
    values = apply_modality_lut(pixels, dataset)
    if "VOILUTSequence" in dataset:
        display = _voi_lut(values, dataset)
    else:
        values = values.astype(np.float64)
        windowed = _window(values, dataset)
        display = _full_range(values) if windowed is None else windowed
    if _text(dataset.get("PhotometricInterpretation")).upper() == "MONOCHROME1":
        display = 1.0 - display  # low values are white in MONOCHROME1
    return display


def to_image(dataset: Dataset) -> Image.Image:
    """Decode the pixel data to an 8-bit image as a radiologist's viewer would first show it."""
    try:
        pixels = dataset.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        name = dicom_uid.UID(str(dataset.file_meta.TransferSyntaxUID)).name
        raise DicomRejected(f"no decoder for {name}: {exc}", code="dicom_transfer_syntax") from exc
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError, EOFError) as exc:
        raise DicomRejected(f"the DICOM pixel data cannot be decoded ({exc})") from exc
    photometric = _text(dataset.get("PhotometricInterpretation")).upper()
    if photometric in _MONOCHROME:
        if pixels.ndim != 2:
            raise DicomRejected("greyscale pixel data is not a single 2-D image")
        display = _grey(pixels, dataset)
        return Image.fromarray(np.rint(display * 255.0).astype(np.uint8), mode="L")
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise DicomRejected("colour pixel data is not a single RGB image")
    # pydicom returns YBR data converted to RGB; 16-bit colour is scaled to 8 bits.
    if pixels.dtype != np.uint8:
        bits = int(dataset.get("BitsStored") or 16)
        pixels = np.clip(np.rint(pixels.astype(np.float64) * 255.0 / (2**bits - 1)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


@dataclass(frozen=True)
class DecodedDicom:
    image: Image.Image
    header: DicomHeader


def decode_dicom(data: bytes, *, max_pixels: int | None = None) -> DecodedDicom:
    """Read, check and decode a DICOM file; raise ``DicomRejected`` with a readable reason."""
    try:
        dataset = read_dataset(data)
        # Elements are parsed lazily, so a malformed one fails here rather than in dcmread.
        header = header_of(dataset)
        check_acceptable(dataset, header, max_pixels=max_pixels)
        image = to_image(dataset)
    except DicomRejected:
        raise
    except Exception as exc:  # untrusted bytes: pydicom and its plugins raise many kinds of error
        raise DicomRejected(f"the DICOM file is damaged ({type(exc).__name__}: {exc})") from exc
    return DecodedDicom(image=image, header=header)


def open_radiograph_image(source: str | os.PathLike | BinaryIO, *, max_pixels: int | None = None) -> Image.Image:
    """Any stored radiograph as a PIL image: DICOM through ``decode_dicom``, the rest ``open_image``."""
    if isinstance(source, str | os.PathLike):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError(f"cannot read {source}: {exc.strerror or exc}") from exc
    else:
        position = source.tell() if source.seekable() else None
        data = source.read()
        if position is not None:
            source.seek(position)
    if is_dicom(data[:DICOM_SNIFF_BYTES]):
        return decode_dicom(data, max_pixels=max_pixels).image
    return open_image(io.BytesIO(data), max_pixels=max_pixels)
