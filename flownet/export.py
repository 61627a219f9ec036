"""Export FlowNetS to ONNX with dynamic batch, height and width.

The network pads its input to a multiple of 64 and crops the flow back. The export traces the model on an input
whose sides are NOT multiples of 64, so that the padding, the up-sampling and the crop are recorded as operations on
the input's shape (a trace on a multiple of 64 would leave the padding out, and other sizes would then fail).
Inputs: ``img1``, ``img2`` (B x 3 x H x W float32 in [0, 1]); output: ``flow`` (B x 2 x H x W, pixels).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from .errors import FlowNetError
from .fileutil import atomic_path
from .models import FlowNetS, model_name

OPSET = 17
TRACE_SIZE = (100, 130)  # not multiples of 64: see the module docstring


def export_onnx(model: FlowNetS, path: str | os.PathLike, opset: int = OPSET) -> Path:
    """Write ``model`` (eval mode) as an ONNX file with dynamic batch / height / width; returns the path."""
    try:
        import onnx  # noqa: F401  (the legacy exporter needs it)
    except ImportError:
        raise FlowNetError("ONNX export needs the onnx package: pip install onnx (or the extra: flownet[onnx])") from None
    if type(model) is not FlowNetS:
        raise FlowNetError(f"ONNX export supports flownets only, not {model_name(model)}: the tracer would fix the "
                           "sizes of its correlation lookup to one input size (exact there, wrong at any other)")
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise FlowNetError("the output must end in .onnx", path)
    model = model.eval().cpu()
    dummy = torch.rand(1, 3, *TRACE_SIZE)
    axes = {0: "batch", 2: "height", 3: "width"}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes turned into Python numbers
        torch.onnx.export(model, (dummy, dummy.clone()), str(tmp), input_names=["img1", "img2"],
                          output_names=["flow"], dynamic_axes={"img1": axes, "img2": axes, "flow": axes},
                          opset_version=opset, dynamo=False)
    return path


def run_onnx(path: str | os.PathLike, img1, img2):
    """Run an exported model with onnxruntime on numpy B x 3 x H x W float32 arrays; returns the flow array."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise FlowNetError("running ONNX models needs onnxruntime: pip install onnxruntime (or the extra: "
                           "flownet[onnx])") from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["flow"], {"img1": img1, "img2": img2})[0]
