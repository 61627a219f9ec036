"""Fuzzing the file readers: random bytes and mutated valid files either load correctly or raise FlowNetError,
never another exception, never a hang, never a huge allocation from a lying header."""

import struct

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from flownet.errors import FlowNetError  # noqa: E402
from flownet.io import (  # noqa: E402
    PNG_SIGNATURE, read_flo, read_image, read_kitti_flow, read_png16, write_flo, write_image, write_kitti_flow,
)

FUZZ = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
MAX_BYTES = 200_000  # a reader never needs much more than the file for these small inputs


def _valid_flo() -> bytes:
    flow = np.random.default_rng(1).normal(0, 3, (5, 7, 2)).astype("<f4")
    return struct.pack("<fii", 202021.25, 7, 5) + flow.tobytes()


def _valid_kitti(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("k") / "f.png"
    flow = np.random.default_rng(2).normal(0, 3, (5, 7, 2)).astype(np.float32)
    write_kitti_flow(p, flow)
    return p.read_bytes()


def _valid_ppm(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("p") / "i.ppm"
    write_image(p, np.random.default_rng(3).integers(0, 255, (5, 7, 3), dtype=np.uint8))
    return p.read_bytes()


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    """Overwrite bytes at positions (mod length), then maybe truncate."""
    b = bytearray(data)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[:cut]) if cut is not None else bytes(b)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8)
cuts = st.one_of(st.none(), st.integers(0, 400))


def check(reader, path, data: bytes, validate):
    path.write_bytes(data)
    try:
        out = reader(path)
    except FlowNetError as e:
        assert str(path) in str(e)
        return
    validate(out)


def flo_ok(flow):
    assert flow.dtype == np.float32 and flow.ndim == 3 and flow.shape[2] == 2 and flow.nbytes <= MAX_BYTES


def img_ok(img):
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.nbytes <= 64 * MAX_BYTES


def kitti_ok(out):
    flow, valid = out
    assert flow.dtype == np.float32 and flow.shape[2] == 2 and valid.shape == flow.shape[:2]
    assert np.isfinite(flow).all() and flow.nbytes <= 4 * MAX_BYTES


# ---------------------------------------------------------------------------------------------- .flo
@FUZZ
@given(data=st.binary(max_size=300))
def test_flo_random_bytes(tmp_path, data):
    check(read_flo, tmp_path / "x.flo", data, flo_ok)


@FUZZ
@given(e=edits, cut=cuts)
def test_flo_mutated(tmp_path, e, cut):
    check(read_flo, tmp_path / "x.flo", mutate(_valid_flo(), e, cut), flo_ok)


@FUZZ
@given(w=st.integers(-2**31, 2**31 - 1), h=st.integers(-2**31, 2**31 - 1), extra=st.binary(max_size=64))
def test_flo_lying_header(tmp_path, w, h, extra):
    check(read_flo, tmp_path / "x.flo", struct.pack("<fii", 202021.25, w, h) + extra, flo_ok)


def test_flo_roundtrip(tmp_path):
    flow = np.random.default_rng(0).normal(0, 5, (9, 11, 2)).astype(np.float32)
    write_flo(tmp_path / "f.flo", flow)
    np.testing.assert_array_equal(read_flo(tmp_path / "f.flo"), flow)


# ---------------------------------------------------------------------------------------------- PPM
@FUZZ
@given(data=st.binary(max_size=300))
def test_ppm_random_bytes(tmp_path, data):
    check(read_image, tmp_path / "x.ppm", data, img_ok)


@FUZZ
@given(e=edits, cut=cuts)
def test_ppm_mutated(tmp_path_factory, tmp_path, e, cut):
    check(read_image, tmp_path / "x.ppm", mutate(_valid_ppm(tmp_path_factory), e, cut), img_ok)


@FUZZ
@given(w=st.integers(0, 10**12), h=st.integers(0, 10**12), maxval=st.integers(0, 70000), body=st.binary(max_size=64))
def test_ppm_lying_header(tmp_path, w, h, maxval, body):
    check(read_image, tmp_path / "x.ppm", f"P6\n{w} {h}\n{maxval}\n".encode() + body, img_ok)


# ---------------------------------------------------------------------------------------------- KITTI PNG
@FUZZ
@given(data=st.binary(max_size=300))
def test_kitti_random_bytes(tmp_path, data):
    check(read_kitti_flow, tmp_path / "x.png", PNG_SIGNATURE + data, kitti_ok)


@FUZZ
@given(e=edits, cut=cuts)
def test_kitti_mutated(tmp_path_factory, tmp_path, e, cut):
    check(read_kitti_flow, tmp_path / "x.png", mutate(_valid_kitti(tmp_path_factory), e, cut), kitti_ok)


@FUZZ
@given(w=st.integers(0, 2**32 - 1), h=st.integers(0, 2**32 - 1), depth=st.sampled_from([8, 16]),
       colour=st.sampled_from([0, 2, 6]), interlace=st.integers(0, 1))
def test_png16_lying_header(tmp_path, w, h, depth, colour, interlace):
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace))
            + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b""))
    check(read_png16, tmp_path / "x.png", data, lambda a: a.nbytes <= MAX_BYTES)


def test_png16_zip_bomb_is_bounded(tmp_path):
    """A small IDAT that inflates far beyond what the header allows must not be inflated in full."""
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(50_000_000))) + chunk(b"IEND", b""))
    (tmp_path / "b.png").write_bytes(data)
    rgb = read_png16(tmp_path / "b.png")  # the first rows decode; the rest is ignored
    assert rgb.shape == (2, 2, 3)
