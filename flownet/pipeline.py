"""The flow pipeline behind every command: the network's flow, optionally refined by classical means.

``refine``:
  - ``none``: the network alone.
  - ``variational``: the network's flow polished coarse to fine by OpenCV's ``VariationalRefinement`` (the
    "+v" of the FlowNet paper: brightness and gradient constancy with a smoothness term, from 1/4 to full size).
  - ``fuse``: the network's flow, estimated on the frames at half size, and per pixel OpenCV's DIS-medium flow
    in its place where DIS passes its own forward-backward check and leaves a smaller brightness error in a small
    window (DIS wins on small, subtle motions; the network on large ones and wherever DIS matched an occluded pixel
    to something else), then one short variational pass at full size. The network's part is the large motions,
    which half size keeps at a quarter of the cost (docs/flow-pipeline.md). Measured on generated validation pairs
    and on the real sets: docs/training.md.
``--refine auto`` (``auto_refine``): none after a model that starts from DIS's flow itself (raft-lite-dis), else
fuse.

The classical steps run on 8-bit grey images on the CPU (OpenCV: ``opencv-python-headless``, a core dependency:
the default pipeline uses DIS). Shapes as everywhere: B x 3 x H x W images in [0, 1] -> B x 2 x H x W flow in px.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .classical import import_cv2, to_gray8
from .errors import FlowNetError
from .types import FlowFn
from .warp import resize_flow

REFINES = ("fuse", "variational", "none")
MIN_SIDE = 16  # px: OpenCV's DIS needs images at least this large (8 x 8 fails inside OpenCV)
FUSE_WINDOW = 7  # side of the box over which the brightness errors of the two candidates are compared
FUSE_ROUND_TRIP = 1.0  # px: DIS's flow counts as consistent where forward then backward returns this close
FUSE_NET_SCALE = 0.5  # fuse runs the network on the frames at this fraction of their size
FUSE_ITERATIONS = 3  # fixed-point iterations of fuse's closing variational pass
VARIATIONAL_LEVELS = 3  # coarse-to-fine levels of --refine variational (full size, 1/2, 1/4)


def _variational(cv2, iterations: int):
    """OpenCV's variational refinement with its default weights and ``iterations`` fixed-point iterations."""
    vr = cv2.VariationalRefinement_create()
    vr.setFixedPointIterations(iterations)
    vr.setSorIterations(5)
    return vr


def sample_at(cv2, img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` read at p + flow(p) for every pixel p (bilinear, edges repeated); ``flow`` H x W x 2 float32."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_error(cv2, gray1: np.ndarray, gray2: np.ndarray, flow: np.ndarray, window: int) -> np.ndarray:
    """Mean |gray1(p) - gray2(p + flow(p))| over a ``window`` x ``window`` box around each pixel (H x W float32)."""
    error = cv2.absdiff(sample_at(cv2, gray2, flow), gray1).astype(np.float32)
    return cv2.boxFilter(error, -1, (window, window))


def fuse(cv2, gray1: np.ndarray, gray2: np.ndarray, flow: np.ndarray, dis_fw: np.ndarray, dis_bw: np.ndarray,
         window: int = FUSE_WINDOW) -> np.ndarray:
    """``flow`` (H x W x 2) with DIS's forward flow taken where DIS is consistent with its backward flow (forward
    then backward lands within ``FUSE_ROUND_TRIP`` px of the start) and its windowed brightness error is the
    smaller one. (An absolute round trip, not warp.py's relative bound: 0.90 against 0.93 EPE on generated
    validation pairs.)"""
    trip = dis_fw + sample_at(cv2, dis_bw, dis_fw)
    consistent = trip[..., 0] ** 2 + trip[..., 1] ** 2 < FUSE_ROUND_TRIP ** 2
    better = warp_error(cv2, gray1, gray2, dis_fw, window) < warp_error(cv2, gray1, gray2, flow, window)
    return np.where((consistent & better)[..., None], dis_fw, flow)


def variational_c2f(cv2, gray1: np.ndarray, gray2: np.ndarray, flow: np.ndarray,
                    levels: int = VARIATIONAL_LEVELS) -> np.ndarray:
    """Variational refinement from 1/2^(levels-1) of the size up to full size, starting from ``flow``."""
    vr = _variational(cv2, 10)
    h, w = gray1.shape
    for level in reversed(range(levels)):
        s = 2 ** level
        size = (max(w // s, 8), max(h // s, 8))
        g1, g2 = (cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (gray1, gray2))
        f = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
        f[..., 0] *= size[0] / flow.shape[1]
        f[..., 1] *= size[1] / flow.shape[0]
        f = vr.calc(g1, g2, f)  # (in place only for a float32 flow: use what it returns)
        if level:
            flow = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= w / size[0]
            flow[..., 1] *= h / size[1]
        else:
            flow = f
    return flow


def flow_scale(h: int, w: int) -> float:
    """The size at which to estimate the flow of H x W frames (RIFE's choice): full size below 720p, half size up to
    1440p, a quarter above; the motion the flow follows grows with the scale-down."""
    side = min(h, w)
    return 1.0 if side < 720 else 0.5 if side < 1440 else 0.25


class ScaledFlow:
    """``flow_fn`` run on the frames area-averaged to ``scale`` of their size (None: ``flow_scale``'s choice for
    their size). Called, it returns the flow upsampled back (bilinear, in full-size pixels); ``shrink`` and
    ``flow_fn`` give the frames and the flow at the size it is estimated at, for work that need not be done at full
    size (``interpolate.pair_flows``)."""

    def __init__(self, flow_fn: FlowFn, scale: float | None = None):
        self.flow_fn, self.scale = flow_fn, scale

    def shrink(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (B x 3 x H x W) area-averaged to the flow's size."""
        h, w = images.shape[-2:]
        s = flow_scale(h, w) if self.scale is None else self.scale
        if s == 1:
            return images
        return F.interpolate(images, size=(max(MIN_SIDE, round(h * s)), max(MIN_SIDE, round(w * s))), mode="area")

    def __call__(self, img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        return resize_flow(self.flow_fn(*self.shrink(torch.cat([img1, img2])).chunk(2)), img1.shape[-2:])


def auto_refine(model: torch.nn.Module) -> str:
    """``--refine auto``: none for a model that starts from DIS's flow itself (raft-lite-dis), else fuse."""
    from .models import RAFTLiteDIS

    return "none" if isinstance(model, RAFTLiteDIS) else "fuse"


def refine_fn(flow_fn: FlowFn, refine: str = "fuse") -> FlowFn:
    """``flow_fn`` followed by the classical ``refine`` step (one of ``REFINES``)."""
    if refine not in REFINES:
        raise ValueError(f"unknown refinement '{refine}' (use {', '.join(REFINES)})")
    if refine == "none":
        return flow_fn
    if refine == "fuse":
        flow_fn = ScaledFlow(flow_fn, FUSE_NET_SCALE)
    cv2 = import_cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis_check = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # the backward flow, only checked:
    dis_check.setVariationalRefinementIterations(0)  # its polish changed nothing measurable and cost 8 % of the time
    vr = _variational(cv2, FUSE_ITERATIONS)

    def one(img1: torch.Tensor, img2: torch.Tensor, flow: np.ndarray) -> np.ndarray:
        g1, g2 = to_gray8(img1), to_gray8(img2)
        if refine == "variational":
            return variational_c2f(cv2, g1, g2, flow)
        fused = fuse(cv2, g1, g2, flow, dis.calc(g1, g2, None), dis_check.calc(g2, g1, None))
        return vr.calc(g1, g2, fused)

    def refined(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        h, w = img1.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise FlowNetError(f"images of {w}x{h} are too small for --refine {refine} (OpenCV's flow needs at least "
                               f"{MIN_SIDE}x{MIN_SIDE}); --refine none takes any size")
        flows = flow_fn(img1, img2).permute(0, 2, 3, 1).numpy()
        out = [one(a, b, np.ascontiguousarray(f, dtype=np.float32)) for a, b, f in zip(img1.cpu(), img2.cpu(), flows)]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()

    return refined
