"""FlowNetS (Dosovitskiy et al., "FlowNet: Learning Optical Flow with Convolutional Networks", ICCV 2015).

The two images are stacked into 6 channels and pass a plain convolutional encoder (conv1 ... conv6_1); the
decoder ("refinement") goes back up with 4x4/2 transposed convolutions, predicting a flow at every level
(flow6 at 1/64 ... flow2 at 1/4 resolution) that is upsampled and concatenated into the next level.

Every layer is built here from ``torch.nn`` primitives. Shapes: images B x 3 x H x W in [0, 1]; flow B x 2 x H x W
in pixels (channel 0 = u to the right, 1 = v downwards). The network itself predicts flow / ``div_flow``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Encoder: (name, output channels at width 1, kernel, stride), as in the paper's Figure 2.
ENCODER = (
    ("conv1", 64, 7, 2),
    ("conv2", 128, 5, 2),
    ("conv3", 256, 5, 2),
    ("conv3_1", 256, 3, 1),
    ("conv4", 512, 3, 2),
    ("conv4_1", 512, 3, 1),
    ("conv5", 512, 3, 2),
    ("conv5_1", 512, 3, 1),
    ("conv6", 1024, 3, 2),
    ("conv6_1", 1024, 3, 1),
)
# Decoder: (deconv output channels at width 1, encoder skip it is concatenated with), from level 5 down to 2.
DECODER = ((512, "conv5_1"), (256, "conv4_1"), (128, "conv3_1"), (64, "conv2"))
STRIDE = 64  # total down-sampling of conv6: inputs are padded to a multiple of this


@dataclass(frozen=True)
class FlowNetSConfig:
    """Everything needed to rebuild a FlowNetS (saved next to its weights)."""

    width: float = 1.0
    batch_norm: bool = False
    div_flow: float = 20.0


SMALL_POSITIONS = 64  # layers with at most this many output positions (batch x H x W) and ...
LARGE_WEIGHT = 2**20  # ... at least this many weights run as one matrix product on the CPU


def _as_matmul(x: torch.Tensor, weight: torch.Tensor, positions: int) -> bool:
    """Whether a layer is better run as one matrix product: on the CPU, oneDNN re-lays-out a convolution's
    weights on every call, which costs far more than the arithmetic when there are few output positions (the
    1/64-resolution layers of the full-width network: 2-6x faster as unfold + matmul, which reads them once)."""
    return (x.device.type == "cpu" and positions <= SMALL_POSITIONS and weight.numel() >= LARGE_WEIGHT
            and not torch.jit.is_tracing())  # an export keeps torch's layers (and dynamic shapes)


def _cpu_autocast_dtype() -> torch.dtype | None:
    """The dtype of CPU autocast, None when it is off."""
    try:
        return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
    except (TypeError, AttributeError):  # torch < 2.4
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None


class _Layer(nn.Module):
    """Parameters to compute with. In inference (no autograd) under CPU bf16 autocast: bf16 copies of the
    weights, made once and again when they change, instead of autocast's cast on every call (a quarter of the
    full network's bf16 time). The copies are plain attributes: the state dict is the same as torch's layers'."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if x.device.type != "cpu" or torch.is_grad_enabled() or _cpu_autocast_dtype() != torch.bfloat16:
            return x, self.weight, self.bias
        key = (self.weight.data_ptr(), self.weight._version)
        cached = self.__dict__.get("_bf16")
        if cached is None or cached[0] != key:
            bias = None if self.bias is None else self.bias.bfloat16()
            cached = self.__dict__["_bf16"] = (key, self.weight.bfloat16(), bias)
        return x.bfloat16(), cached[1], cached[2]


class Conv2d(nn.Conv2d, _Layer):
    """``nn.Conv2d`` (same parameters) that runs layers of few output positions as unfold + matmul."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, weight, bias = self._params(x)
        (k, _), (s, _), (p, _) = self.kernel_size, self.stride, self.padding
        b, _, h, w = x.shape
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        if self.groups != 1 or isinstance(self.padding, str) or not _as_matmul(x, weight, b * ho * wo):
            return self._conv_forward(x, weight, bias)
        y = weight.flatten(1) @ F.unfold(x, k, padding=p, stride=s)
        y = y if bias is None else y + bias[:, None]
        return y.view(b, -1, ho, wo)


class ConvTranspose2d(nn.ConvTranspose2d, _Layer):
    """``nn.ConvTranspose2d`` (same parameters) that runs fp32 layers of few input positions as matmul + fold
    (in bf16 oneDNN's own kernel is faster)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None:
            return super().forward(x, output_size)
        x, weight, bias = self._params(x)
        (k, _), (s, _), (p, _) = self.kernel_size, self.stride, self.padding
        b, _, h, w = x.shape
        if (self.groups != 1 or x.dtype != torch.float32 or _cpu_autocast_dtype() is not None
                or not _as_matmul(x, weight, b * h * w)):
            return F.conv_transpose2d(x, weight, bias, self.stride, self.padding, self.output_padding, self.groups,
                                      self.dilation)
        cols = weight.flatten(1).t() @ x.flatten(2)
        y = F.fold(cols, ((h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k), k, padding=p, stride=s)
        return y if bias is None else y + bias[:, None, None]


def conv_block(in_ch: int, out_ch: int, kernel: int, stride: int, batch_norm: bool) -> nn.Sequential:
    """Convolution (+ BatchNorm) + LeakyReLU(0.1), 'same' padding."""
    layers: list[nn.Module] = [Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


def deconv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """4x4/2 transposed convolution (doubles H and W) + LeakyReLU(0.1)."""
    return nn.Sequential(ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.1, inplace=True))


def predict_flow(in_ch: int) -> nn.Conv2d:
    """3x3 convolution to the 2 flow channels."""
    return Conv2d(in_ch, 2, 3, 1, 1, bias=False)


def upsample_flow() -> nn.ConvTranspose2d:
    """Learned x2 up-sampling of a 2-channel flow."""
    return ConvTranspose2d(2, 2, 4, 2, 1, bias=False)


class FlowNetS(nn.Module):
    """FlowNetS with a channel ``width`` multiplier (1.0 = the paper's 38.7M-parameter network).

    ``forward(img1, img2)``: B x 3 x H x W images in [0, 1], any H x W.
      - eval mode: B x 2 x H x W flow in pixels at full resolution (flow2 up-sampled x4, times ``div_flow``).
      - train mode: the list [flow2, flow3, flow4, flow5, flow6] in units of flow / ``div_flow``, at 1/4 ... 1/64
        of the input size; the input size must then be a multiple of 64 (training crops are).
    """

    def __init__(self, width: float = 1.0, batch_norm: bool = False, div_flow: float = 20.0) -> None:
        super().__init__()
        self.config = FlowNetSConfig(width, batch_norm, div_flow)
        ch = {name: max(8, round(c * width)) for name, c, _, _ in ENCODER}

        self.encoder = nn.ModuleDict()
        in_ch = 6
        for name, _, kernel, stride in ENCODER:
            self.encoder[name] = conv_block(in_ch, ch[name], kernel, stride, batch_norm)
            in_ch = ch[name]

        self.predict6 = predict_flow(in_ch)
        self.deconvs, self.upflows, self.predicts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for out_c, skip in DECODER:
            out_c = max(8, round(out_c * width))
            self.deconvs.append(deconv_block(in_ch, out_c))
            self.upflows.append(upsample_flow())
            in_ch = ch[skip] + out_c + 2
            self.predicts.append(predict_flow(in_ch))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in [self.predict6, *self.predicts]:
            nn.init.normal_(m.weight, std=1e-3)  # first predictions near zero flow

    def forward(self, img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if img1.shape != img2.shape or img1.dim() != 4 or img1.shape[1] != 3:
            raise ValueError(f"expected two B x 3 x H x W images of one size, got {tuple(img1.shape)}, {tuple(img2.shape)}")
        h, w = img1.shape[-2:]
        # centred input, NCHW: channels_last measured no faster on an AVX-512 CPU (docs/performance.md)
        x = (torch.cat([img1, img2], dim=1) - 0.5).contiguous()
        if self.training:
            if h % STRIDE or w % STRIDE:
                raise ValueError(f"training input size must be a multiple of {STRIDE}, got {h}x{w}")
            return self._multiscale(x)
        pad_h, pad_w = -h % STRIDE, -w % STRIDE
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        flow2 = self._multiscale(x)[0]
        flow = F.interpolate(flow2.float(), scale_factor=4, mode="bilinear", align_corners=False)
        return (flow[:, :, :h, :w] * self.config.div_flow).contiguous()

    def _multiscale(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder then decoder; returns [flow2, ..., flow6] in flow / div_flow units."""
        skips = {}
        for name, block in self.encoder.items():
            x = block(x)
            skips[name] = x
        flow = self.predict6(x)
        flows = [flow]
        for (_, skip), deconv, upflow, predict in zip(DECODER, self.deconvs, self.upflows, self.predicts):
            x = torch.cat([skips[skip], deconv(x), upflow(flow)], dim=1)
            flow = predict(x)
            flows.append(flow)
        return flows[::-1]

    def config_dict(self) -> dict:
        """The constructor arguments, for saving beside the weights."""
        return asdict(self.config)
