"""CPU fast paths of FlowNetS's layers, kept apart from the model so that the model file reads like the paper.

The layers here are drop-in ``torch.nn`` layers (same parameters, same state dict) that compute faster on the CPU:
  - inference: oneDNN's fused convolutions (private ``torch.ops.mkldnn`` ops, the ones ``torch.compile``'s CPU
    freezing uses) with weights packed once, BatchNorm folded in and LeakyReLU in the same pass;
  - training: large tensors in channels_last, small ones in NCHW, and the 2-channel flow predictor as a sum of
    shifted 1x1-convolution taps (docs/performance.md has the measurements).
Anything else (CUDA, autograd in eval mode, torch.jit, torch.compile, ONNX export) runs torch's own layers.
When torch moves, this is the one file to change.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


def _cpu_autocast_dtype() -> torch.dtype | None:
    """The dtype of CPU autocast, None when it is off."""
    try:
        return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
    except (TypeError, AttributeError):  # torch < 2.4
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None


@functools.cache
def onednn_available() -> bool:
    """Whether this torch has oneDNN's fused convolutions with pre-packed weights (x86 builds: the ops that
    ``torch.compile``'s CPU freezing uses)."""
    try:
        ops = torch.ops.mkldnn
        return (torch.backends.mkldnn.is_available() and not ops._is_mkldnn_acl_supported()
                and all(hasattr(ops, name) for name in ("_convolution_pointwise", "_convolution_transpose_pointwise",
                                                         "_reorder_convolution_weight",
                                                         "_reorder_convolution_transpose_weight")))
    except (AttributeError, RuntimeError):
        return False


def _compiling() -> bool:
    """Whether torch.compile is tracing the model (torch >= 2.3 can tell)."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling and is_compiling())


def fused_dtype(x: torch.Tensor, module: nn.Module) -> torch.dtype | None:
    """The dtype in which ``module`` runs ``x`` through oneDNN's fused CPU path, or None for torch's own layers.

    The fused path is for CPU inference: eval mode, nothing to differentiate, fp32 (or bf16 under CPU bf16
    autocast), and not while torch.jit, torch.compile or the ONNX exporter records the model."""
    if (x.device.type != "cpu" or module.training or not onednn_available() or not torch.backends.mkldnn.enabled
            or (torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters())))
            or torch.jit.is_tracing() or torch.jit.is_scripting() or _compiling()):
        return None
    dtype = _cpu_autocast_dtype() or x.dtype
    return dtype if dtype in (torch.float32, torch.bfloat16) else None


CL_POSITIONS = 16384  # in CPU training: tensors with at least this many positions (batch x H x W) in channels_last


def train_layout(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``x`` in the memory layout that CPU training computes fastest in: channels_last for tensors of at least
    CL_POSITIONS positions, NCHW for smaller ones (oneDNN's training kernels measured up to 2x faster in
    channels_last on the large early layers and 1.5-2x slower on the 1/32-1/64 ones; docs/performance.md).
    Anything else (inference, CUDA, a trace) is left as it is."""
    if not module.training or x.device.type != "cpu" or x.dim() != 4 or torch.jit.is_tracing():
        return x
    large = x.shape[0] * x.shape[2] * x.shape[3] >= CL_POSITIONS
    return x.contiguous(memory_format=torch.channels_last if large else torch.contiguous_format)


def inference_layout(x: torch.Tensor, first: nn.Module) -> torch.Tensor:
    """``x`` (the network's input) in the layout and dtype its first layer ``first`` computes fastest in: oneDNN's
    fused path in channels_last (1.3x faster) and its own dtype, torch's own layers in NCHW."""
    dtype = fused_dtype(x, first)
    return x.contiguous() if dtype is None else x.contiguous(memory_format=torch.channels_last).to(dtype)


PACKED_SIZES = 4  # input sizes a layer keeps packed weights for (a folder of pairs often alternates a few sizes)


class _Fused:
    """oneDNN's convolution with its weights packed once (and again when they change, or per input size) into the
    layout it computes in, an optional BatchNorm folded into them and LeakyReLU applied in the same pass.

    Torch's own CPU layers re-lay-out the weights on every call, which costs more than the arithmetic in the
    small 1/64-resolution layers (4x there), and run BatchNorm and LeakyReLU as separate passes over memory. The
    packed copy is a plain attribute: the state dict is torch's."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    padding: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    def fused(self, x: torch.Tensor, dtype: torch.dtype, bn: nn.BatchNorm2d | None = None,
              slope: float | None = None) -> torch.Tensor:
        """The layer (+ ``bn``) (+ LeakyReLU(``slope``)) on ``x`` in ``dtype``; ``x`` best in channels_last."""
        x = x.to(dtype)
        sources = [t for t in (self.weight, self.bias, *(() if bn is None else (*bn.parameters(), *bn.buffers())))
                   if t is not None]
        # weights made under inference_mode keep no version counter: packed anew on every call
        weights = None if any(t.is_inference() for t in sources) else (
            dtype, tuple((t.data_ptr(), t._version) for t in sources))
        if "_packed" not in self.__dict__ or self.__dict__["_packed"][0] != weights:
            self.__dict__["_packed"] = (weights, {})  # input size -> (weight, bias), the latest used last
        sizes: dict = self.__dict__["_packed"][1]
        cached = sizes.pop(tuple(x.shape), None)
        if cached is None:  # (always, for weights without a version: nothing is kept for them)
            weight, bias = self._folded(bn)
            cached = (self._pack(weight.to(dtype), list(x.shape)), None if bias is None else bias.to(dtype))
            if len(sizes) == PACKED_SIZES:
                del sizes[next(iter(sizes))]
        if weights is not None:
            sizes[tuple(x.shape)] = cached
        attr, scalars = ("none", []) if slope is None else ("leaky_relu", [slope])
        return self._run(x, cached[0], cached[1], attr, scalars)

    def __getstate__(self) -> dict:
        """Copies and pickles of the layer leave the packed weights behind (oneDNN's opaque tensors have no
        storage to copy); they are packed again on first use."""
        state = super().__getstate__()  # nn.Module's
        state.pop("_packed", None)
        return state

    def _folded(self, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight and bias with an eval-mode BatchNorm folded in."""
        if bn is None:
            return self.weight, self.bias
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        out_dim = 1 if isinstance(self, nn.ConvTranspose2d) else 0
        weight = self.weight * scale.view([-1 if d == out_dim else 1 for d in range(self.weight.dim())])
        return weight, shift if self.bias is None else shift + self.bias * scale

    def fusable(self) -> bool:
        """Whether the fused path can run this layer's configuration."""
        raise NotImplementedError

    def _pack(self, weight: torch.Tensor, input_size: list[int]) -> torch.Tensor:
        raise NotImplementedError

    def _run(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, attr: str,
             scalars: list[float]) -> torch.Tensor:
        raise NotImplementedError


class Conv2d(_Fused, nn.Conv2d):
    """``nn.Conv2d`` (same parameters) with the fused oneDNN path in CPU inference."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = fused_dtype(x, self) if self.fusable() else None
        return train_layout(super().forward(x), self) if dtype is None else self.fused(x, dtype)

    def fusable(self) -> bool:
        return self.padding_mode == "zeros" and not isinstance(self.padding, str)

    def _pack(self, weight: torch.Tensor, input_size: list[int]) -> torch.Tensor:
        return torch.ops.mkldnn._reorder_convolution_weight(weight, list(self.padding), list(self.stride),
                                                            list(self.dilation), self.groups, input_size)

    def _run(self, x, weight, bias, attr, scalars):
        return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, list(self.padding), list(self.stride),
                                                       list(self.dilation), self.groups, attr, scalars, "")


class ConvTranspose2d(_Fused, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (same parameters) with the fused oneDNN path in CPU inference."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        dtype = fused_dtype(x, self) if output_size is None else None
        return train_layout(super().forward(x, output_size), self) if dtype is None else self.fused(x, dtype)

    def fusable(self) -> bool:
        return True

    def _pack(self, weight: torch.Tensor, input_size: list[int]) -> torch.Tensor:
        return torch.ops.mkldnn._reorder_convolution_transpose_weight(
            weight, list(self.padding), list(self.output_padding), list(self.stride), list(self.dilation),
            self.groups, input_size)

    def _run(self, x, weight, bias, attr, scalars):
        return torch.ops.mkldnn._convolution_transpose_pointwise(
            x, weight, bias, list(self.padding), list(self.output_padding), list(self.stride), list(self.dilation),
            self.groups, attr, scalars, "")


class Block(nn.Sequential):
    """(Transposed) convolution (+ BatchNorm) + LeakyReLU: torch's layers in sequence (the convolution's output
    already in ``train_layout``), or one fused oneDNN call in CPU inference (same state dict either way)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, act = self[0], self[-1]
        dtype = fused_dtype(x, self) if conv.fusable() else None
        if dtype is None:
            return super().forward(x)
        return conv.fused(x, dtype, self[1] if len(self) == 3 else None, act.negative_slope)


class FlowPredictor(Conv2d):
    """3x3 convolution (no bias, 'same' padding) to the 2 flow channels.

    In CPU training it is computed as a 1x1 convolution to the 2 x 9 products of (tap, flow channel), summed over
    the 9 taps shifted into place: the same numbers and the same weight, 1.5-2.5x faster forward and backward
    there than oneDNN's kernels with only 2 output channels (docs/performance.md)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.device.type != "cpu" or torch.jit.is_tracing():
            return super().forward(x)
        k, (h, w) = self.kernel_size[0], x.shape[-2:]
        taps = F.conv2d(x, self.weight.permute(2, 3, 0, 1).reshape(-1, self.in_channels, 1, 1))
        taps = F.pad(taps, [self.padding[0]] * 4)
        out = self.out_channels
        return sum(taps[:, i * out:(i + 1) * out, i // k:i // k + h, i % k:i % k + w] for i in range(k * k))
