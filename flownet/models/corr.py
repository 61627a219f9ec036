"""The all-pairs correlation pyramid of RAFT (Teed and Deng, ECCV 2020), and its lookup around a flow.

For features ``f1``, ``f2`` (B x D x H x W, at 1/8 of the image) the volume holds ``<f1(p), f2(q)> / sqrt(D)`` for
every pair of pixels p, q; level l pools it over q by 2^l, so that a lookup of radius r at level l sees
+-r * 2^l pixels of the 1/8 grid. Looking up at p + flow(p) samples the volume bilinearly (zero outside the image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def all_pairs(f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """B x D x H x W and B x D x H' x W' features -> the B x (H W) x H' x W' volume: entry [b, i, y, x] =
    <f1 at pixel i, f2 at (y, x)>, over sqrt(D); pixel i = y1 * W + x1."""
    b, d, h, w = f1.shape
    volume = torch.bmm(f1.flatten(2).transpose(1, 2) / d ** 0.5, f2.flatten(2))  # (scaling f1: a smaller tensor)
    return volume.view(b, h * w, *f2.shape[-2:])


class CorrPyramid:
    """The volume of ``f1``, ``f2`` pooled ``levels`` times; ``lookup(coords)`` gives the
    B x (levels (2 radius + 1)^2) x H x W correlations around ``coords`` (B x 2 x H x W, x then y, 1/8 pixels)."""

    def __init__(self, f1: torch.Tensor, f2: torch.Tensor, levels: int = 3, radius: int = 3) -> None:
        self.radius = radius
        self.shape = f1.shape
        b, _, h, w = f1.shape
        self.levels = []
        for _ in range(levels):  # (pooling f2 pools the volume over q: the products are linear in f2)
            volume = all_pairs(f1, f2)
            self.levels.append(volume.reshape(b * h * w, 1, *volume.shape[-2:]))
            f2 = F.avg_pool2d(f2, 2, stride=2, ceil_mode=True)

    def lookup(self, coords: torch.Tensor) -> torch.Tensor:
        b, _, h, w = coords.shape
        r = self.radius
        d = torch.arange(-r, r + 1, device=coords.device, dtype=coords.dtype)
        window = torch.stack(torch.meshgrid(d, d, indexing="xy"), dim=-1)  # (2r+1) x (2r+1) x 2: (dx, dy)
        centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        out = []
        for level, volume in enumerate(self.levels):
            points = centre / 2 ** level + window  # in pixels of this level
            size = points.new_tensor([volume.shape[-1], volume.shape[-2]])
            grid = 2 * (points + 0.5) / size - 1  # pixel centres, align_corners=False
            sampled = F.grid_sample(volume, grid.to(volume.dtype), mode="bilinear", padding_mode="zeros",
                                    align_corners=False)
            out.append(sampled.view(b, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


def soft_match(volume_level0: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Global matching: the expected position of each pixel's match under a softmax over the whole volume, minus
    its own position: a B x 2 x H x W flow (1/8 pixels) that needs no initial guess (as GMFlow's)."""
    b, _, h, w = shape
    prob = volume_level0.view(b, h * w, h * w).float().softmax(dim=-1)
    grid = pixel_grid(b, h, w, prob.device).flatten(2).transpose(1, 2)  # B x HW x 2
    return (torch.bmm(prob, grid) - grid).transpose(1, 2).reshape(b, 2, h, w)


def pixel_grid(b: int, h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    """B x 2 x H x W pixel coordinates (x, y)."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys])[None].expand(b, 2, h, w)
