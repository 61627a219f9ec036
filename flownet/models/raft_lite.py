"""RAFT-lite: a small RAFT (Teed and Deng, "RAFT: Recurrent All-Pairs Field Transforms for Optical Flow", ECCV
2020) sized for CPUs, whose iterations start from a global match instead of zero flow (as GMFlow, Xu et al. 2022,
and in the spirit of SEA-RAFT's direct initial flow), so that few iterations are needed.

  1. A feature encoder maps both images to 1/8 resolution; a context encoder maps image 1 to the GRU's initial
     hidden state and its fixed input.
  2. The all-pairs correlation volume of the two feature maps, pooled into a pyramid (``corr.py``).
  3. The initial flow: each pixel's expected match under a softmax over the whole volume.
  4. ``iters`` updates: look the pyramid up around the current flow, encode it with the flow, a ConvGRU step,
     a flow correction; each flow is upsampled x8 by a learned convex combination of its 3 x 3 neighbours.

Shapes: images B x 3 x H x W in [0, 1], any H x W (padded to a multiple of 8 and cropped back); flow
B x 2 x H x W in pixels. Train mode returns every upsampled flow, [final, ..., initial], in pixels.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..warp import resize_flow
from .corr import CorrPyramid, pixel_grid, soft_match

STRIDE = 8


@dataclass(frozen=True)
class RAFTLiteConfig:
    feature_dim: int = 96
    hidden_dim: int = 64
    context_dim: int = 64
    levels: int = 3
    radius: int = 3
    iters: int = 4


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (+ norm) with a skip; ``stride`` 2 halves H and W: B x in x H x W -> B x out x H' x W'."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.norm1, self.norm2 = make_norm(norm, out_ch), make_norm(norm, out_ch)
        self.skip = None if stride == 1 and in_ch == out_ch else nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride), make_norm(norm, out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


def make_norm(norm: str, ch: int) -> nn.Module:
    return nn.InstanceNorm2d(ch) if norm == "instance" else nn.Identity()


class Encoder(nn.Module):
    """B x 3 x H x W image in [-1, 1] -> B x ``out_ch`` x H/8 x W/8."""

    def __init__(self, out_ch: int, norm: str) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 7, 2, 3), make_norm(norm, 24), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(ResidualBlock(24, 32, 2, norm), ResidualBlock(32, 64, 2, norm),
                                    ResidualBlock(64, 64, 1, norm))
        self.out = nn.Conv2d(64, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.layers(self.stem(x)))


class MotionEncoder(nn.Module):
    """Correlations B x C x h x w and flow B x 2 x h x w -> motion features B x 80 x h x w (the flow included)."""

    def __init__(self, corr_ch: int) -> None:
        super().__init__()
        self.corr = nn.Conv2d(corr_ch, 96, 1)
        self.flow1 = nn.Conv2d(2, 64, 7, 1, 3)
        self.flow2 = nn.Conv2d(64, 32, 3, 1, 1)
        self.out = nn.Conv2d(96 + 32, 78, 3, 1, 1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        c = F.relu(self.corr(corr))
        f = F.relu(self.flow2(F.relu(self.flow1(flow))))
        return torch.cat([F.relu(self.out(torch.cat([c, f], dim=1))), flow], dim=1)


class ConvGRU(nn.Module):
    """A GRU whose gates are 3x3 convolutions: hidden B x H x h x w, input B x I x h x w -> new hidden."""

    def __init__(self, hidden: int, inputs: int) -> None:
        super().__init__()
        self.convz = nn.Conv2d(hidden + inputs, hidden, 3, 1, 1)
        self.convr = nn.Conv2d(hidden + inputs, hidden, 3, 1, 1)
        self.convq = nn.Conv2d(hidden + inputs, hidden, 3, 1, 1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z, r = torch.sigmoid(self.convz(hx)), torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


def head(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """3x3 convolution to 128 channels, ReLU, then ``kernel`` x ``kernel`` to ``out_ch``."""
    return nn.Sequential(nn.Conv2d(in_ch, 128, 3, 1, 1), nn.ReLU(inplace=True),
                         nn.Conv2d(128, out_ch, kernel, 1, kernel // 2))


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flow B x 2 x h x w (1/8 pixels) and mask logits B x (9 * 64) x h x w -> B x 2 x 8h x 8w in pixels: each fine
    pixel is a convex combination of the 3 x 3 coarse flows around its coarse pixel."""
    b, _, h, w = flow.shape
    weights = mask.view(b, 1, 9, STRIDE, STRIDE, h, w).softmax(dim=2)
    neighbours = F.unfold(STRIDE * flow, 3, padding=1).view(b, 2, 9, 1, 1, h, w)
    up = (weights * neighbours).sum(dim=2)  # B x 2 x 8 x 8 x h x w
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, STRIDE * h, STRIDE * w)


class RAFTLite(nn.Module):
    """``forward(img1, img2)``: eval mode B x 2 x H x W flow in pixels; train mode the list [final, ..., initial]
    of B x 2 x H x W flows (H, W multiples of 8)."""

    def __init__(self, feature_dim: int = 96, hidden_dim: int = 64, context_dim: int = 64, levels: int = 3,
                 radius: int = 3, iters: int = 4) -> None:
        super().__init__()
        self.config = RAFTLiteConfig(feature_dim, hidden_dim, context_dim, levels, radius, iters)
        self.fnet = Encoder(feature_dim, "instance")
        self.cnet = Encoder(hidden_dim + context_dim, "none")
        self.motion = MotionEncoder(levels * (2 * radius + 1) ** 2)
        self.gru = ConvGRU(hidden_dim, context_dim + 80)
        self.flow_head = head(hidden_dim, 2, 3)
        self.mask_head = head(hidden_dim, 9 * STRIDE * STRIDE, 1)
        nn.init.normal_(self.flow_head[-1].weight, std=1e-3)
        nn.init.zeros_(self.flow_head[-1].bias)

    def forward(self, img1: torch.Tensor, img2: torch.Tensor,
                iters: int | None = None) -> torch.Tensor | list[torch.Tensor]:
        h, w = check_pair(img1, img2, self.training)
        x = padded(torch.cat([img1, img2])) * 2 - 1
        flows = self.flows(x[: len(img1)], x[len(img1):], iters or self.config.iters)
        if self.training:
            return flows[::-1]
        return flows[-1][:, :, :h, :w].float().contiguous()

    def flows(self, img1: torch.Tensor, img2: torch.Tensor, iters: int,
              init: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Images in [-1, 1] (sides multiples of 8) -> the initial and each iteration's flow, upsampled, in px.
        With a full-size ``init``, the iterations start from it averaged to 1/8, and what they return are their
        upsampled corrections to it (the first one zero)."""
        cfg = self.config
        f1, f2 = self.fnet(torch.cat([img1, img2])).float().chunk(2)
        pyramid = CorrPyramid(f1, f2, cfg.levels, cfg.radius)
        if init is None:
            flow = soft_match(pyramid.levels[0], f1.shape)
            ups = [STRIDE * F.interpolate(flow, scale_factor=STRIDE, mode="bilinear", align_corners=False)]
        else:
            flow = F.avg_pool2d(init.float(), STRIDE) / STRIDE
            ups = [torch.zeros_like(init, dtype=torch.float32)]
        start = flow
        hidden, context = self.cnet(img1).split([cfg.hidden_dim, cfg.context_dim], dim=1)
        hidden, context = torch.tanh(hidden), F.relu(context)
        coords = pixel_grid(*flow.shape[:1], *flow.shape[2:], device=flow.device)
        for i in range(iters):
            flow = flow.detach()
            corr = pyramid.lookup(coords + flow)
            hidden = self.gru(hidden, torch.cat([context, self.motion(flow, corr.to(context.dtype))], dim=1))
            flow = flow + self.flow_head(hidden).float()
            if self.training or i == iters - 1:  # (evaluation needs the last flow only)
                mask = 0.25 * self.mask_head(hidden).float()
                ups.append(convex_upsample(flow if init is None else flow - start, mask))
        return ups

    def config_dict(self) -> dict:
        return asdict(self.config)


class RAFTLiteDIS(RAFTLite):
    """RAFT-lite as a learned correction of a classical flow: its iterations start from OpenCV's DIS (medium
    preset) flow of the pair, and their correction, upsampled, is added to DIS's full-size flow. DIS is
    accurate on small, textured motions and fails on large ones and occlusions; the network learns where and how
    to correct it. With ``scale`` < 1 the network sees the images shrunk by ``scale`` (DIS the full-size ones) and
    its correction is resized to full size: about ``scale`` squared of the network's cost."""

    def __init__(self, scale: float = 1.0, **options) -> None:
        super().__init__(**options)
        self.scale = scale

    def forward(self, img1: torch.Tensor, img2: torch.Tensor,
                iters: int | None = None) -> torch.Tensor | list[torch.Tensor]:
        size = check_pair(img1, img2, self.training)
        with torch.no_grad():
            dis = dis_medium()(img1.detach().float().cpu(), img2.detach().float().cpu()).to(img1.device)
        small = tuple(max(STRIDE, round(self.scale * s)) for s in size)
        x = torch.cat([img1, img2])
        if small != size:
            x = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
        x = padded(x) * 2 - 1
        corrections = self.flows(x[: len(img1)], x[len(img1):], iters or self.config.iters,
                                 padded(resize_flow(dis, small)))
        flows = [dis + resize_flow(c[:, :, : small[0], : small[1]], size) for c in corrections]
        return flows[::-1] if self.training else flows[-1].contiguous()

    def config_dict(self) -> dict:
        return {**super().config_dict(), "scale": self.scale}


def check_pair(img1: torch.Tensor, img2: torch.Tensor, training: bool) -> tuple[int, int]:
    """The (H, W) of two B x 3 x H x W images of one size; training needs sides that are multiples of 8."""
    if img1.shape != img2.shape or img1.dim() != 4 or img1.shape[1] != 3:
        raise ValueError(f"expected two B x 3 x H x W images of one size, got {tuple(img1.shape)}, "
                         f"{tuple(img2.shape)}")
    h, w = img1.shape[-2:]
    if training and (h % STRIDE or w % STRIDE):
        raise ValueError(f"training input size must be a multiple of {STRIDE}, got {h}x{w}")
    return h, w


def padded(x: torch.Tensor) -> torch.Tensor:
    """B x C x H x W -> its bottom and right edges replicated to sides that are multiples of 8."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % STRIDE, 0, -h % STRIDE), mode="replicate")


@functools.cache
def dis_medium():
    """OpenCV's DIS flow (medium preset) as a flow function (made once: it holds OpenCV state)."""
    from ..classical import classical_flow_fn

    return classical_flow_fn("dis-medium")
