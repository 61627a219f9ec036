"""FlowNetS (Dosovitskiy et al., "FlowNet: Learning Optical Flow with Convolutional Networks", ICCV 2015).

The two images are stacked into 6 channels and pass a plain convolutional encoder (conv1 ... conv6_1); the
decoder ("refinement") goes back up with 4x4/2 transposed convolutions, predicting a flow at every level
(flow6 at 1/64 ... flow2 at 1/4 resolution) that is upsampled and concatenated into the next level.

Every layer is a ``torch.nn`` layer (``models/fused.py`` holds drop-in subclasses that only add CPU fast paths:
same parameters, same state dict, same numbers). Shapes: images B x 3 x H x W in [0, 1]; flow B x 2 x H x W
in pixels (channel 0 = u to the right, 1 = v downwards). The network itself predicts flow / ``div_flow``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .fused import Block, Conv2d, ConvTranspose2d, FlowPredictor, inference_layout, train_layout

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
    in_channels: int = 6  # the two images; more for a stacked network's input (models/stack.py)


def conv_block(in_ch: int, out_ch: int, kernel: int, stride: int, batch_norm: bool) -> Block:
    """Convolution (+ BatchNorm) + LeakyReLU(0.1), 'same' padding."""
    layers: list[nn.Module] = [Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.1, inplace=True))
    return Block(*layers)


def deconv_block(in_ch: int, out_ch: int) -> Block:
    """4x4/2 transposed convolution (doubles H and W) + LeakyReLU(0.1)."""
    return Block(ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.1, inplace=True))


def predict_flow(in_ch: int) -> nn.Conv2d:
    """3x3 convolution to the 2 flow channels."""
    return FlowPredictor(in_ch, 2, 3, 1, 1, bias=False)


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

    def __init__(self, width: float = 1.0, batch_norm: bool = False, div_flow: float = 20.0,
                 in_channels: int = 6) -> None:
        super().__init__()
        self.config = FlowNetSConfig(width, batch_norm, div_flow, in_channels)
        ch = {name: max(8, round(c * width)) for name, c, _, _ in ENCODER}

        self.encoder = nn.ModuleDict()
        in_ch = in_channels
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
        return self.predict(torch.cat([img1, img2], dim=1) - 0.5)  # centred input

    def predict(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """The network on its input B x ``in_channels`` x H x W (the two centred images, or a stack's input);
        the outputs as ``forward``'s."""
        h, w = x.shape[-2:]
        if self.training:
            if h % STRIDE or w % STRIDE:
                raise ValueError(f"training input size must be a multiple of {STRIDE}, got {h}x{w}")
            return self._multiscale(train_layout(x.contiguous(), self))
        pad_h, pad_w = -h % STRIDE, -w % STRIDE
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        flow2 = self._multiscale(inference_layout(x, self.encoder.conv1))[0].float().contiguous()
        flow = F.interpolate(flow2, scale_factor=4, mode="bilinear", align_corners=False)
        return flow[:, :, :h, :w].mul_(self.config.div_flow).contiguous()

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
