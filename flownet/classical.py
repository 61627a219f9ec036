"""Classical optical flow from OpenCV as flow functions: DIS and Farneback.

Each ``classical_flow_fn(name)`` has the signature of ``evaluate.model_flow_fn``'s result: B x 3 x H x W images in
[0, 1] -> B x 2 x H x W float32 flow in pixels. Images are converted to 8-bit gray (ITU-R 601 luma) first.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .errors import FlowNetError
from .io import luma
from .types import FlowFn

DIS_PRESETS = {"dis-ultrafast": "ULTRAFAST", "dis-fast": "FAST", "dis-medium": "MEDIUM"}
# OpenCV's recommended pairing poly_n 7 / poly_sigma 1.5, a classical pyramid, 15 px box window
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=7, poly_sigma=1.5, flags=0)
METHODS = (*DIS_PRESETS, "farneback")


def import_cv2():
    """The ``cv2`` module, or a FlowNetError saying how to install it."""
    try:
        import cv2
    except ImportError:
        raise FlowNetError("OpenCV is not installed: pip install opencv-python-headless") from None
    return cv2


def to_gray8(img: torch.Tensor) -> np.ndarray:
    """3 x H x W float image in [0, 1] -> H x W uint8 gray."""
    return np.rint(luma(img.float().numpy()) * 255).clip(0, 255).astype(np.uint8)  # numpy: no thread-pool start-up


def classical_flow_fn(name: str) -> FlowFn:
    """The flow function of a classical method: one of ``METHODS``."""
    if name not in METHODS:
        raise FlowNetError(f"unknown classical method '{name}' (use {', '.join(METHODS)})")
    cv2 = import_cv2()
    if name == "farneback":
        def pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)
    else:
        dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{DIS_PRESETS[name]}"))

        def pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return dis.calc(a, b, None)

    return opencv_flow_fn(pair)


def opencv_flow_fn(pair: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> FlowFn:
    """A flow function from an OpenCV-style call on two H x W uint8 grey images returning H x W x 2 flow."""

    def flow_fn(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        flows = [torch.from_numpy(pair(to_gray8(a), to_gray8(b))).permute(2, 0, 1) for a, b in zip(img1, img2)]
        return torch.stack(flows).float().contiguous()

    return flow_fn
