"""The DICOM decoder: every transfer syntax departments use, display LUTs, refusals by content."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import uid

from inference.dicom import DicomRejected, decode_dicom, is_dicom, open_radiograph_image, person_name
from inference.imaging import to_model_input
from tests.dicom import builders

SPEC = {"size": 64, "color": "grey", "resize": "letterbox"}

LOSSLESS = [
    uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,
    uid.RLELossless,
    uid.JPEG2000Lossless,
]


def _grey(image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_lossless_syntaxes_give_back_the_exact_pixels(syntax):
    decoded = decode_dicom(builders.dicom_bytes(syntax))
    assert decoded.header.transfer_syntax_uid == syntax
    assert decoded.image.mode == "L"
    assert np.array_equal(_grey(decoded.image), _grey(builders.xray()))


@pytest.mark.parametrize(("syntax", "tolerance"), [(uid.JPEGBaseline8Bit, 24), (uid.JPEG2000, 12)], ids=str)
def test_lossy_syntaxes_decode_close_to_the_source(syntax, tolerance):
    decoded = decode_dicom(builders.dicom_bytes(syntax))
    difference = np.abs(_grey(decoded.image) - _grey(builders.xray()))
    assert difference.mean() < 2 and difference.max() <= tolerance


@pytest.mark.parametrize(
    ("tool", "args", "syntax"),
    [
        ("dcmcjpeg", ["+e1"], uid.JPEGLosslessSV1),
        ("dcmcjpeg", ["+el"], uid.JPEGLossless),
        ("dcmcjpls", [], uid.JPEGLSLossless),
        ("dcmcrle", [], uid.RLELossless),
    ],
    ids=["jpeg-lossless-sv1", "jpeg-lossless", "jpeg-ls", "dcmtk-rle"],
)
def test_dcmtk_compressed_files_decode_exactly(tool, args, syntax, tmp_path):
    data = builders.dcmtk_convert(builders.dicom_bytes(), tool, *args, tmp_path=tmp_path)
    decoded = decode_dicom(data)
    assert decoded.header.transfer_syntax_uid == syntax
    assert np.array_equal(_grey(decoded.image), _grey(builders.xray()))


def test_dcmtk_jpeg_baseline_decodes(tmp_path):
    data = builders.dcmtk_convert(builders.dicom_bytes(), "dcmcjpeg", "+eb", tmp_path=tmp_path)
    decoded = decode_dicom(data)
    assert decoded.header.transfer_syntax_uid == uid.JPEGBaseline8Bit
    assert np.abs(_grey(decoded.image) - _grey(builders.xray())).mean() < 2


def test_monochrome1_is_inverted_back_to_the_same_picture():
    # The builder stores 255 - x as MONOCHROME1: displayed, it must read as x again.
    decoded = decode_dicom(builders.dicom_bytes(photometric="MONOCHROME1"))
    assert np.array_equal(_grey(decoded.image), _grey(builders.xray()))


def test_sixteen_bits_with_rescale_and_window():
    decoded = decode_dicom(builders.sixteen_bit_with_window())
    shown = _grey(decoded.image)
    stored = _grey(builders.xray()) * 16
    # Window centre 1040, width 2000 after the intercept of -1000: stored 2040 is mid-grey,
    # stored values at or below 1040.5 are black and above 3039.5 white.
    assert (shown[stored <= 1040] == 0).all()
    assert (shown[stored >= 3040] == 255).all()
    middle = (stored > 1900) & (stored < 2200)
    assert middle.any()
    expected = np.clip(((stored[middle] - 1000) - 1039.5) / 1999 + 0.5, 0, 1) * 255
    assert np.abs(shown[middle] - expected).max() <= 1


def test_a_voi_lut_is_applied_in_preference_to_the_window():
    shown = _grey(decode_dicom(builders.with_voi_lut()).image)
    stored = _grey(builders.xray()).astype(np.int64) * 16
    expected = np.rint(np.minimum(65535, stored * 32) / 65535 * 255)
    assert np.abs(shown - expected).max() <= 1 and shown.max() == 255


def test_rgb_is_allowed_and_reaches_the_model_input_like_any_image():
    rgb = builders.xray().convert("RGB")
    decoded = decode_dicom(builders.dicom_bytes(image=rgb, photometric="RGB"))
    assert decoded.image.mode == "RGB"
    assert to_model_input(decoded.image, SPEC).shape == (64, 64, 1)


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (builders.ct_slice, "dicom_modality", "CT images are not accepted"),
        (builders.multi_frame, "dicom_multiframe", "3 frames"),
        (
            builders.unsupported_syntax,
            "dicom_transfer_syntax",
            r"MPEG2 Main Profile / Main Level \(1.2.840.10008.1.2.4.100\)",
        ),
    ],
    ids=["ct", "multi-frame", "mpeg2"],
)
def test_what_is_not_a_decodable_radiograph_is_refused_by_name(make, code, message):
    with pytest.raises(DicomRejected, match=message) as caught:
        decode_dicom(make())
    assert caught.value.code == code


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(DicomRejected, match="more than the limit of 1000"):
        decode_dicom(builders.dicom_bytes(), max_pixels=1000)


def test_sniffed_by_content_and_the_same_decoder_serves_the_worker(tmp_path):
    data = builders.dicom_bytes()
    assert is_dicom(data[:132]) and not is_dicom(data[:128] + b"DICX") and not is_dicom(data[4:136])
    path = tmp_path / "wrist.jpg"  # a lying extension changes nothing
    path.write_bytes(data)
    assert np.array_equal(_grey(open_radiograph_image(path)), _grey(builders.xray()))


def test_header_names_read_as_people_write_them():
    assert person_name("Lovelace^Ada^King^Lady") == "Lady Ada King Lovelace"
    assert person_name("DOE^JOHN=\u5c71\u7530^\u592a\u90ce") == "JOHN DOE"


def test_damaged_files_are_refused_never_crash():
    import contextlib
    import random
    import warnings

    data = builders.dicom_bytes(uid.RLELossless)
    rng = random.Random(14)
    damaged = [data[:cut] for cut in (132, 200, 400, len(data) // 2, len(data) - 10)]
    for _ in range(40):
        mutated = bytearray(data)
        for _ in range(8):
            mutated[rng.randrange(132, min(len(data), 1200))] = rng.randrange(256)
        damaged.append(bytes(mutated))
    for sample in damaged:
        with warnings.catch_warnings(), contextlib.suppress(DicomRejected):
            warnings.simplefilter("ignore")  # pydicom warns about each bad value it meets
            decode_dicom(sample, max_pixels=10_000_000)
