"""File formats pinned by files that our writers did not make: .flo built byte by byte, KITTI 16-bit PNGs from
OpenCV's encoder and from a hand-built PNG (every row filter), the Middlebury unknown-flow marker in `eval --epe`."""

import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from flownet.errors import FlowNetError
from flownet.io import (PNG_SIGNATURE, read_flo, read_flow, read_kitti_flow, read_png16, write_image,
                        write_kitti_flow)


def flo_bytes(width: int, height: int, value) -> bytes:
    """A .flo file written value by value: magic 202021.25, width, height, then u, v of each pixel, row by row."""
    out = struct.pack("<f", 202021.25) + struct.pack("<i", width) + struct.pack("<i", height)
    for y in range(height):
        for x in range(width):
            out += struct.pack("<ff", *value(x, y))
    return out


def png16_bytes(rgb: np.ndarray) -> bytes:
    """A 16-bit RGB PNG made here, row y with filter type y % 5 (None, Sub, Up, Average, Paeth), encoded from the
    PNG specification's definitions byte by byte."""
    h, w, _ = rgb.shape
    raw = [bytes(rgb[y].astype(">u2").tobytes()) for y in range(h)]
    bpp, body = 6, b""
    for y in range(h):
        kind, line, up = y % 5, raw[y], raw[y - 1] if y else bytes(len(raw[y]))
        out = bytearray([kind])
        for i, byte in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b = up[i]
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            out.append((byte - (0, a, b, (a + b) // 2, paeth)[kind]) % 256)
        body += bytes(out)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b""))


def kitti_codes(h: int = 7, w: int = 11):
    """Flow with u != v everywhere (u from x, v from y, both signs, 1/64 steps) and a third of the pixels invalid
    (holding large codes that must not be read as flow); returns (u, v, valid, R, G, B codes)."""
    ys, xs = np.mgrid[:h, :w]
    u = (xs - 5) * 3.25 + 0.015625 * ys
    v = -(ys - 3) * 10.5 - 0.5
    valid = (xs + ys) % 3 != 0
    r = np.where(valid, np.round(u * 64 + 2**15), 65535).astype(np.uint16)
    g = np.where(valid, np.round(v * 64 + 2**15), 123).astype(np.uint16)
    return u, v, valid, np.dstack([r, g, valid.astype(np.uint16)])


def test_flo_built_byte_by_byte_reads_with_width_and_height_in_place(tmp_path):
    path = tmp_path / "f.flo"
    path.write_bytes(flo_bytes(5, 3, lambda x, y: (x + 0.5, -10.0 * y)))  # 5 wide, 3 high
    flow = read_flo(path)
    assert flow.shape == (3, 5, 2) and flow.dtype == np.float32
    assert flow[2, 4].tolist() == [4.5, -20.0] and flow[0, 1].tolist() == [1.5, 0.0]
    ys, xs = np.mgrid[:3, :5]
    np.testing.assert_array_equal(flow, np.dstack([xs + 0.5, -10.0 * ys]))


def test_flo_unknown_marker_is_invalid(tmp_path):
    path = tmp_path / "f.flo"
    path.write_bytes(flo_bytes(4, 2, lambda x, y: (1e10, 0.0) if (x, y) == (3, 1) else (1.0, 2.0)))
    flow, valid = read_flow(path)
    assert valid.sum() == 7 and not valid[1, 3] and flow[1, 3].tolist() == [0.0, 0.0]


def test_kitti_png_from_a_hand_built_encoder(tmp_path):
    """Every PNG row filter, from an encoder written from the specification: catches channels read in OpenCV's
    BGR order (u and v from the wrong channels) and a wrong offset or scale."""
    u, v, valid, rgb = kitti_codes()
    path = tmp_path / "k.png"
    path.write_bytes(png16_bytes(rgb))
    np.testing.assert_array_equal(read_png16(path), rgb)
    flow, ok = read_kitti_flow(path)
    np.testing.assert_array_equal(ok, valid)
    np.testing.assert_allclose(flow[..., 0], np.where(valid, u, 0), atol=1 / 128)
    np.testing.assert_allclose(flow[..., 1], np.where(valid, v, 0), atol=1 / 128)


def test_kitti_png_from_opencv(tmp_path):
    """OpenCV writes 16-bit PNGs from BGR arrays: B = valid, G = v, R = u."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV is the optional 'bench' extra")
    u, v, valid, rgb = kitti_codes(9, 6)
    path = tmp_path / "k.png"
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    flow, ok = read_kitti_flow(path)
    np.testing.assert_array_equal(ok, valid)
    np.testing.assert_allclose(flow[..., 0], np.where(valid, u, 0), atol=1 / 128)
    np.testing.assert_allclose(flow[..., 1], np.where(valid, v, 0), atol=1 / 128)


def test_kitti_writer_refuses_flow_beyond_its_range(tmp_path):
    flow = np.zeros((4, 5, 2), np.float32)
    flow[1, 2, 1] = -600.0
    with pytest.raises(FlowNetError, match="600.0 px, beyond"):
        write_kitti_flow(tmp_path / "k.png", flow)
    assert not list(tmp_path.iterdir())  # nothing half-written
    valid = np.ones((4, 5), bool)
    valid[1, 2] = False  # beyond the range but not valid: stored as invalid
    write_kitti_flow(tmp_path / "k.png", flow, valid)
    _, ok = read_kitti_flow(tmp_path / "k.png")
    np.testing.assert_array_equal(ok, valid)
    flow[0, 0] = (-512.0, 511.984375)  # the extremes it can hold
    write_kitti_flow(tmp_path / "k.png", flow, valid)
    assert read_kitti_flow(tmp_path / "k.png")[0][0, 0].tolist() == [-512.0, 511.984375]


def test_eval_masks_middlebury_unknown_flow(tmp_path):
    """`eval --epe` on a Middlebury folder whose ground truth marks pixels unknown (1e10): zero flow's EPE is the
    mean |gt| over the known pixels only (computed here from the values written)."""
    rng = np.random.default_rng(0)
    known = []
    for seq, (w, h) in (("Alpha", (9, 6)), ("Beta", (12, 8))):
        (tmp_path / seq).mkdir()
        for frame in ("frame10.png", "frame11.png"):
            write_image(tmp_path / seq / frame, rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        values = {(x, y): (1e10, 1e10) if (x * y) % 4 == 1 else (float(x), -2.0 * y)
                  for x in range(w) for y in range(h)}
        (tmp_path / seq / "flow10.flo").write_bytes(flo_bytes(w, h, lambda x, y: values[x, y]))
        known.append([np.hypot(*uv) for uv in values.values() if uv[0] < 1e9])
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "eval", "--epe", "--model", "none", "--baseline", "zero", "--data",
                        str(tmp_path), "--json", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["n"] == 2 and result["pixels"] == sum(map(len, known))
    assert result["epe"] == pytest.approx(np.concatenate(known).mean(), rel=1e-6)  # over pixels
    assert result["pair_mean"]["epe"] == pytest.approx(np.mean([np.mean(k) for k in known]), rel=1e-6)
