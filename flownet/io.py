"""Reading and writing flow fields and images.

Arrays read from files are H x W x C numpy arrays (images uint8 RGB, flow float32 with u then v in pixels);
``image_to_tensor`` / ``flow_to_tensor`` convert at the edge to 1 x C x H x W float tensors. Every problem with a
file raises FlowNetError naming the file; writers are atomic (temp file + rename).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch

from .errors import FlowNetError
from .fileutil import atomic_path

FLO_MAGIC = 202021.25
UNKNOWN_FLOW = 1e9  # Middlebury marks unknown flow with |u| or |v| above this
MAX_SIDE = 100_000
MAX_PIXELS = 64 * 2**20  # images above 64 megapixels are refused before decoding (a lying header cannot make us
#                          allocate gigabytes)
IMAGE_SUFFIXES = (".ppm", ".pgm", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


# ----------------------------------------------------------------------------------------------- .flo
def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a Middlebury .flo file: H x W x 2 float32, raw values (see ``flow_valid_mask`` for unknowns)."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 12:
        raise FlowNetError(f"not a .flo file (only {len(data)} bytes)", path)
    magic, w, h = struct.unpack("<fii", data[:12])
    if magic != np.float32(FLO_MAGIC):
        raise FlowNetError(f"not a .flo file (bad magic {data[:4]!r}, expected b'PIEH' = {FLO_MAGIC})", path)
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise FlowNetError(f"impossible size {w}x{h} in the header", path)
    expected = 12 + 8 * w * h
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise FlowNetError(f"file is {what}: expected {expected} bytes for {w}x{h}, found {len(data)}", path)
    return np.frombuffer(data, dtype="<f4", offset=12).reshape(h, w, 2).astype(np.float32)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write H x W x 2 flow as a Middlebury .flo file, atomically."""
    flow = _check_flow(flow)
    h, w = flow.shape[:2]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<fii", FLO_MAGIC, w, h))
            f.write(flow.astype("<f4").tobytes())


def flow_valid_mask(flow: np.ndarray) -> np.ndarray:
    """H x W bool: finite and not marked unknown (|u|, |v| <= 1e9)."""
    return np.isfinite(flow).all(-1) & (np.abs(flow) <= UNKNOWN_FLOW).all(-1)


def zero_invalid(flow: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``flow`` (H x W x 2) with 0 wherever ``valid`` (H x W) is False: the one way unknown flow is cleared."""
    return np.where(valid[..., None], flow, 0).astype(flow.dtype, copy=False)


def read_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(flow H x W x 2, valid H x W) from a .flo file or a KITTI 16-bit .png; invalid pixels hold 0."""
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        flow = read_flo(path)
        valid = flow_valid_mask(flow)
        return zero_invalid(flow, valid), valid
    if suffix == ".png":
        return read_kitti_flow(path)
    raise FlowNetError("unknown flow format (expected .flo or KITTI .png)", path)


def _check_flow(flow: np.ndarray) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or 0 in flow.shape:
        raise ValueError(f"flow must be H x W x 2, got shape {flow.shape}")
    return flow


# ----------------------------------------------------------------------------------------------- images
def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as H x W x 3 uint8 RGB: gray is copied to 3 channels, alpha dropped, 16 bit scaled."""
    import imageio.v3 as iio

    path = Path(path)
    _read_bytes(path, probe=True)
    _check_image_header(path)
    try:  # Pillow reads every IMAGE_SUFFIXES format; imageio's other plugins (PyAV, ffmpeg) would take seconds to
        img = np.asarray(iio.imread(path, plugin="pillow"))  # give up on a broken file
    except Exception as e:  # imageio raises many types for unreadable data
        raise FlowNetError(f"cannot read the image ({type(e).__name__})", path) from None
    return to_rgb8(img, path)


def _check_image_header(path: Path) -> None:
    """Refuse, from the header alone, images too large to decode and raw PNM files shorter than their pixels."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                (w, h), fmt, mode = im.size, im.format, im.mode
    except Image.DecompressionBombError:
        raise FlowNetError("image is too large to decode (its header claims over 178 megapixels)", path) from None
    except Exception:  # not a format Pillow knows: reading it says so
        return
    if w * h > MAX_PIXELS:
        raise FlowNetError(f"image of {w}x{h} is too large (over {MAX_PIXELS // 2**20} megapixels)", path)
    if fmt == "PPM" and mode in ("L", "RGB", "I;16", "I;16B", "I") and path.stat().st_size < w * h:
        raise FlowNetError(f"image file is truncated ({path.stat().st_size} bytes for {w}x{h} pixels)", path)


def to_rgb8(img: np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    """Convert a decoded image (gray, gray+alpha, RGB, RGBA; uint8, uint16 or float) to H x W x 3 uint8."""
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4) or 0 in img.shape[:2]:
        raise FlowNetError(f"not a single still image (array of shape {img.shape})", path)
    img = img[..., :3] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, axis=2)
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        return (np.clip(np.nan_to_num(img), 0, 1) * 255).round().astype(np.uint8)
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    raise FlowNetError(f"unsupported pixel type {img.dtype}", path)


def write_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write an H x W x 3 image (uint8, or float in [0, 1]) atomically; the format follows the extension."""
    import imageio.v3 as iio

    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    suffix = Path(path).suffix.lower()
    if Path(path).is_dir():
        raise FlowNetError("output path is a folder: give a file name, e.g. out.png", path)
    if suffix not in IMAGE_SUFFIXES:
        raise FlowNetError(f"unknown image format '{suffix}' (use one of {', '.join(IMAGE_SUFFIXES)})", path)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img, extension=suffix)


def read_pair(path1: str | os.PathLike, path2: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read two images that must have the same size."""
    a, b = read_image(path1), read_image(path2)
    if a.shape != b.shape:
        raise FlowNetError(f"images of a pair differ in size: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}",
                           path2)
    return a, b


def luma(img: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B) of RGB images ... x 3 x H x W (array or tensor): ... x H x W."""
    return 0.299 * img[..., 0, :, :] + 0.587 * img[..., 1, :, :] + 0.114 * img[..., 2, :, :]


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """An image array -> 1 x 3 x H x W float32 in [0, 1].

    Accepts H x W x 3, H x W x 4 (alpha dropped), H x W and H x W x 1 (grey, copied to 3 channels); uint8 (0-255),
    uint16 (0-65535) or float already in [0, 1]. Anything else is a FlowNetError (e.g. float 0-255: divide by 255).
    """
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or 0 in img.shape[:2]:
        raise FlowNetError(f"an image must be H x W x 3 (or x 4, x 1, or H x W grey), not an array of shape "
                           f"{img.shape}")
    if img.dtype == np.uint8:
        scale = 255.0
    elif img.dtype == np.uint16:
        scale = 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        low, high = (float(img.min()), float(img.max())) if np.isfinite(img).all() else (float("nan"),) * 2
        if not (0 <= low and high <= 1):
            raise FlowNetError(f"a float image must hold values in [0, 1], this one spans {low:g} to {high:g} "
                               "(divide 0-255 values by 255)")
        scale = 1.0
    else:
        raise FlowNetError(f"unsupported pixel type {img.dtype} (use uint8, uint16 or float in [0, 1])")
    x = torch.from_numpy(np.ascontiguousarray(img[..., :3])).permute(2, 0, 1)[None]
    x = x.float() if scale == 1.0 else x.float() / scale
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


def quantised(img: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] rounded to the 8-bit levels a written frame has (values still in [0, 1])."""
    return (img.clamp(0, 1) * 255).round() / 255


def tensor_to_image(img: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W or 3 x H x W tensor in [0, 1] -> H x W x 3 uint8 (rounded, as written to files)."""
    if img.dim() == 4:
        img = img[0]
    return (img.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def flow_to_tensor(flow: np.ndarray) -> torch.Tensor:
    """H x W x 2 -> 1 x 2 x H x W float32."""
    return torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()


def tensor_to_flow(flow: torch.Tensor) -> np.ndarray:
    """1 x 2 x H x W or 2 x H x W tensor -> H x W x 2 float32 array."""
    if flow.dim() == 4:
        flow = flow[0]
    return flow.detach().float().cpu().permute(1, 2, 0).contiguous().numpy()


def _read_bytes(path: Path, probe: bool = False) -> bytes:
    """The file's bytes (or just check it can be opened, with ``probe``), as a FlowNetError if not."""
    if not path.exists():
        raise FlowNetError("no such file", path)
    if not path.is_file():
        raise FlowNetError("not a file", path)
    try:
        with open(path, "rb") as f:
            return f.read(1 if probe else -1)
    except OSError as e:
        raise FlowNetError(f"cannot read ({e.strerror})", path) from None


# ----------------------------------------------------------------------------------------------- KITTI
# KITTI flow: 16-bit RGB PNG with u = (R - 2^15) / 64, v = (G - 2^15) / 64, B = 1 where valid. Pillow reads
# 16-bit RGB PNGs as 8 bit, so this module checks and inflates them itself; the row filters are undone by OpenCV
# when it is installed (50x faster on the Paeth rows KITTI's files use), else by the small decoder below.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KITTI_RANGE = (-2**15 / 64, (2**16 - 1 - 2**15) / 64)  # the flow a KITTI PNG can hold: -512 ... 511.98 px


def read_kitti_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(flow H x W x 2 float32, valid H x W bool) from a KITTI flow PNG; invalid pixels hold 0."""
    rgb = read_png16(path)
    flow = (rgb[..., :2].astype(np.float32) - 2**15) / 64.0
    valid = rgb[..., 2] > 0
    return zero_invalid(flow, valid), valid


def write_kitti_flow(path: str | os.PathLike, flow: np.ndarray, valid: np.ndarray | None = None) -> None:
    """Write flow as a KITTI 16-bit PNG (values rounded to 1/64 px); pixels not ``valid`` (default: unknown or
    non-finite flow) are stored as invalid. Valid flow beyond KITTI's -512 ... 511.98 px is a FlowNetError."""
    flow = _check_flow(flow)
    valid = flow_valid_mask(flow) if valid is None else np.asarray(valid, bool) & flow_valid_mask(flow)
    codes = np.round(zero_invalid(flow.astype(np.float64), valid) * 64.0 + 2**15)
    if codes.min() < 0 or codes.max() > 2**16 - 1:
        worst = np.abs(flow[valid]).max()
        low, high = KITTI_RANGE
        raise FlowNetError(f"flow reaches {worst:.1f} px, beyond the {low:.0f} ... {high:.2f} px a KITTI PNG holds: "
                           "write .flo instead", path)
    write_png16(path, np.dstack([codes.astype(np.uint16), valid.astype(np.uint16)]))


def write_png16(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write H x W x 3 uint16 as a 16-bit RGB PNG (OpenCV's encoder), atomically."""
    from .classical import import_cv2

    ok, png = import_cv2().imencode(".png", np.ascontiguousarray(np.asarray(rgb, np.uint16)[..., ::-1]))
    if not ok:
        raise FlowNetError("OpenCV could not encode the PNG", path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(png.tobytes())


PNG_COLOURS = {0: "gray", 2: "RGB", 3: "palette", 4: "gray + alpha", 6: "RGBA"}


def read_png16(path: str | os.PathLike) -> np.ndarray:
    """Read a 16-bit RGB PNG as H x W x 3 uint16: the header checked here (bit depth, colours, a size that fits in
    memory), the pixels decoded by OpenCV (libpng)."""
    from .classical import import_cv2

    path = Path(path)
    data = _read_bytes(path)
    if not data.startswith(PNG_SIGNATURE) or len(data) < 29 or data[12:16] != b"IHDR":
        raise FlowNetError("not a PNG file", path)
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    if (depth, colour) != (16, 2):
        raise FlowNetError(f"an image ({depth}-bit {PNG_COLOURS.get(colour, 'unknown colour type')} PNG), not a flow "
                           "(flow files: .flo, or KITTI's 16-bit RGB PNG)", path)
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE) or w * h > MAX_PIXELS:
        raise FlowNetError(f"PNG of {w}x{h} is too large (over {MAX_PIXELS // 2**20} megapixels) or empty", path)
    cv2 = import_cv2()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.shape != (h, w, 3) or bgr.dtype != np.uint16:
        raise FlowNetError("PNG is corrupt or truncated (it does not decode)", path)
    return np.ascontiguousarray(bgr[..., ::-1])