"""A learned synthesis of the frame at time t from two frames and their flows (frame interpolation).

After Super SloMo's refinement network (Jiang et al., CVPR 2018): the intermediate flows F_t0, F_t1 are
approximated from the two flows, both frames are warped to t, and a small U-Net sees the frames, the warped frames,
the intermediate flows, t and the forward-backward consistency of the flows. It predicts corrections of the two
intermediate flows, a soft visibility map V (frame 0 seen: V, frame 1 seen: 1 - V) and a residual image:

    I_t = ((1 - t) V W0 + t (1 - V) W1) / ((1 - t) V + t (1 - V)) + R,     W_i = I_i warped by the corrected F_ti.

The U-Net works on 2 x 2 pixel blocks (pixel unshuffle) at half size and below, so that full-size detail reaches
it at a quarter of the cost. Its last layer starts at zero and V's logit has a fixed prior, PRIOR x (seen1 - seen0)
from the consistency check (a frame-0 point not found in frame 1 is taken from frame 0, and the other way round): an
untrained network gives ``interpolate.warp_blend``'s consistency blend, softened (+0.1 dB over the plain blend of
the two warped frames on held-out video triplets; a prior of 2 was better than 0, 4, 8 or 30).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..warp import backward_warp, blend, consistency_mask, intermediate_flows

FLOW_SCALE = 20.0  # flows enter and leave the network divided by this
IN_CHANNELS = 4 * 3 + 2 * 2 + 3  # frames, warped frames, intermediate flows; consistency, warp difference, t
OUT_CHANNELS = 2 * 2 + 1 + 3  # flow corrections, visibility logit, residual
PRIOR = 2.0  # the visibility logit's prior per unit of consistency difference
MULTIPLE = 16  # the input is padded to a multiple of this (2 x 2 blocks, three halvings)


@dataclass(frozen=True)
class SynthesisConfig:
    width: int = 32  # channels at the first level; x2, x3, x4 below


def conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution + LeakyReLU(0.1) (PReLU trained 2.3x slower on the CPU)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True))


class Down(nn.Sequential):
    """Halve the size: B x C x H x W -> B x C' x H/2 x W/2."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(conv(in_ch, out_ch, 2), conv(out_ch, out_ch))


class Up(nn.Module):
    """Double the size and merge the skip: (B x C x H x W, B x S x 2H x 2W) -> B x C' x 2H x 2W."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1), nn.LeakyReLU(0.1, inplace=True))
        self.merge = conv(out_ch + skip_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """B x IN_CHANNELS x H x W -> B x OUT_CHANNELS x H x W (H, W multiples of ``MULTIPLE``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        c1, c2, c3, c4 = width, 2 * width, 3 * width, 4 * width
        self.inp = nn.Sequential(conv(4 * IN_CHANNELS, c1), conv(c1, c1))  # on 2 x 2 blocks: half size
        self.down1, self.down2, self.down3 = Down(c1, c2), Down(c2, c3), Down(c3, c4)
        self.up3, self.up2, self.up1 = Up(c4, c3, c3), Up(c3, c2, c2), Up(c2, c1, c1)
        self.out = nn.Conv2d(c1, 4 * OUT_CHANNELS, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.inp(F.pixel_unshuffle(x, 2))
        s2 = self.down1(s1)
        s3 = self.down2(s2)
        y = self.down3(s3)
        y = self.up1(self.up2(self.up3(y, s3), s2), s1)
        return F.pixel_shuffle(self.out(y), 2)


class SynthesisNet(nn.Module):
    """``forward(img0, img1, f01, f10, t)``: B x 3 x H x W frames in [0, 1], their flows B x 2 x H x W in pixels,
    t a float or a B-vector in (0, 1) -> the B x 3 x H x W frame at t (any H x W: padded and cropped back)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.config = SynthesisConfig(width)
        self.unet = UNet(width)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor,
                t: float | torch.Tensor) -> torch.Tensor:
        b, _, h, w = img0.shape
        t = torch.as_tensor(t, dtype=img0.dtype, device=img0.device).reshape(-1, 1, 1, 1).expand(b, 1, 1, 1)
        pad = (0, -w % MULTIPLE, 0, -h % MULTIPLE)
        img0, img1, f01, f10 = (F.pad(x, pad, mode="replicate") for x in (img0, img1, f01, f10))
        ft0, ft1 = intermediate_flows(f01, f10, t)
        seen0 = backward_warp(consistency_mask(f01, f10), ft0)[0]  # frame-0 pixel found again in frame 1
        seen1 = backward_warp(consistency_mask(f10, f01), ft1)[0]
        warped0, warped1 = backward_warp(img0, ft0)[0], backward_warp(img1, ft1)[0]
        x = torch.cat([img0, img1, warped0, warped1, ft0 / FLOW_SCALE, ft1 / FLOW_SCALE, seen0 - seen1,
                       (warped0 - warped1).abs().mean(1, keepdim=True), t.expand(b, 1, *img0.shape[-2:])], dim=1)
        y = self.unet(x)
        ft0 = ft0 + FLOW_SCALE * y[:, 0:2]
        ft1 = ft1 + FLOW_SCALE * y[:, 2:4]
        vis = torch.sigmoid(y[:, 4:5] + PRIOR * (seen1 - seen0))
        warped0, warped1 = backward_warp(img0, ft0)[0], backward_warp(img1, ft1)[0]
        frame = blend(warped0, warped1, t, vis, 1 - vis) + y[:, 5:8]
        return frame[..., :h, :w]

    def config_dict(self) -> dict:
        return asdict(self.config)
