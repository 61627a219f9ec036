"""Warping by a flow, and the forward-backward consistency check.

Pixel convention (as everywhere in flownet): pixel centres sit at integer coordinates 0 .. W-1; a flow (u, v) at
pixel (x, y) of the first image points to (x + u, y + v) in the second. ``grid_sample`` is therefore used with
``align_corners=True``, which maps -1 and +1 to the centres of the corner pixels.
Shapes: images B x C x H x W, flows B x 2 x H x W, masks B x 1 x H x W (float, 1 = yes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def blend_weights(t: float | torch.Tensor, seen0: float | torch.Tensor = 1.0, seen1: float | torch.Tensor = 1.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights of ``blend``: (1 - t) ``seen0`` and t ``seen1`` normalised, or (1 - t, t) where both vanish."""
    w0, w1 = torch.as_tensor((1 - t) * seen0), torch.as_tensor(t * seen1)
    total = w0 + w1
    some = total > 1e-3
    return (torch.where(some, w0 / total.clamp_min(1e-3), 1 - t), torch.where(some, w1 / total.clamp_min(1e-3), t))


def blend(warped0: torch.Tensor, warped1: torch.Tensor, t: float | torch.Tensor, seen0: float | torch.Tensor = 1.0,
          seen1: float | torch.Tensor = 1.0) -> torch.Tensor:
    """The frame at t from both frames warped to t: weights (1 - t) ``seen0`` and t ``seen1`` (each frame's
    visibility there, as Super SloMo's), normalised; where both vanish, the plain blend (1 - t) I0 + t I1."""
    k0, k1 = blend_weights(t, seen0, seen1)
    return k0 * warped0 + k1 * warped1


def sample_grid(flow: torch.Tensor) -> torch.Tensor:
    """The normalised ``grid_sample`` grid (B x H x W x 2) of the positions x + flow."""
    b, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    x = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], dim=-1)


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``img`` at x + flow(x) (bilinear): the result at x is what ``img`` shows where x's flow points.

    Returns (warped image, inside mask): the mask is 1 where the sampled position lies within the frame (to half
    a pixel beyond the border pixels' centres), 0 where it fell outside; outside samples repeat the border.
    """
    grid = sample_grid(flow.to(img.dtype))
    warped = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)
    h, w = img.shape[-2:]
    half_x, half_y = 1 / max(w - 1, 1), 1 / max(h - 1, 1)  # half a pixel in normalised units
    inside = (grid[..., 0].abs() <= 1 + half_x) & (grid[..., 1].abs() <= 1 + half_y)
    return warped, inside[:, None].to(img.dtype)


def warp_image(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``backward_warp``'s warped image alone (half its time at 720p goes to the inside mask)."""
    return F.grid_sample(img, sample_grid(flow.to(img.dtype)), mode="bilinear", padding_mode="border",
                         align_corners=True)


def consistency_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor, alpha1: float = 0.01,
                     alpha2: float = 0.5) -> torch.Tensor:
    """Forward-backward check (Sundaram et al., ECCV 2010): a pixel of the first frame is reliable (1) when
    following its forward flow and then the backward flow found there brings it back close to where it started,
    |F_fw + F_bw(x + F_fw)|^2 < alpha1 (|F_fw|^2 + |F_bw(x + F_fw)|^2) + alpha2, and its target lies in the frame.
    Pixels that fail are occluded in the second frame or wrongly estimated (0)."""
    return consistency_masks(flow_fw, flow_bw, [(alpha1, alpha2)])[0]


def consistency_masks(flow_fw: torch.Tensor, flow_bw: torch.Tensor,
                      bounds: list[tuple[float, float]]) -> list[torch.Tensor]:
    """``consistency_mask`` for each (alpha1, alpha2) of ``bounds``, from one warp of the backward flow."""
    bw_at_target, inside = backward_warp(flow_bw, flow_fw)
    round_trip = (flow_fw + bw_at_target).square().sum(1, keepdim=True)
    size = flow_fw.square().sum(1, keepdim=True) + bw_at_target.square().sum(1, keepdim=True)
    return [(round_trip < alpha1 * size + alpha2).to(flow_fw.dtype) * inside for alpha1, alpha2 in bounds]


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``flow`` resized bilinearly to ``size`` (H, W), its vectors scaled to pixels of that size."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    resized = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    return resized * torch.tensor([size[1] / w, size[0] / h], dtype=resized.dtype).view(1, 2, 1, 1)


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """B x C x h x w values (masks, weights) resized bilinearly to ``size`` (H, W)."""
    return mask if mask.shape[-2:] == size else F.interpolate(mask, size=size, mode="bilinear", align_corners=False)


def intermediate_flows(f01: torch.Tensor, f10: torch.Tensor, t: float | torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Super SloMo's approximation (Jiang et al., CVPR 2018) of the flows from time t to frame 0 and to frame 1,
    from the flows between the frames (t a float, or a tensor broadcasting against the flows)."""
    ft0 = -(1 - t) * t * f01 + t * t * f10
    ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
    return ft0, ft1
