"""Self-supervised training on footage without ground truth (``flownet train --unsupervised``).

A flow is scored by how well it explains one frame by the other, as in UFlow (Jonschkowski et al., ECCV 2020) and
its successors (ARFlow, SMURF): the census distance between frame 1 and frame 2 warped back along the flow, counted
only where the forward-backward check finds the pixel visible in both frames (the masks carry no gradient), plus an
edge-aware first-order smoothness of the flow. Both directions are estimated and scored.

Shapes: images B x 3 x H x W in [0, 1]; flows B x 2 x H x W in pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .io import luma
from .warp import backward_warp, consistency_mask

CENSUS = 7  # side of the census window
SMOOTHNESS = 2.0  # weight of the smoothness term beside the census term
EDGES = 150.0  # how strongly image edges release the smoothness (exp(-EDGES |grad I|))


def census(img: torch.Tensor) -> torch.Tensor:
    """B x 3 x H x W -> the soft census signature B x (CENSUS^2) x H x W: each neighbour's grey level minus the
    centre's, squashed (d / sqrt(0.81 + d^2), grey levels 0-255): insensitive to brightness and contrast change."""
    gray = 255 * luma(img).unsqueeze(1)
    b, _, h, w = gray.shape
    r = CENSUS // 2
    patches = F.unfold(F.pad(gray, (r, r, r, r), mode="replicate"), CENSUS).view(b, CENSUS * CENSUS, h, w)
    d = patches - gray
    return d / torch.sqrt(0.81 + d * d)


def census_error(img1: torch.Tensor, img2: torch.Tensor, flow: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """The robust soft Hamming distance between the census of ``img1`` and of ``img2`` warped back along ``flow``,
    averaged over the ``visible`` pixels (B x 1 x H x W) whose target lies in the frame."""
    warped, inside = backward_warp(img2, flow)
    d = (census(img1) - census(warped)).square()
    distance = (d / (0.1 + d)).sum(1, keepdim=True)
    mask = visible * inside
    return ((distance + 0.01) ** 0.4 * mask).sum() / mask.sum().clamp_min(1.0)


def smoothness(flow: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """Mean |flow difference| between neighbours, weighted by exp(-EDGES |image difference|): the flow may change
    at image edges, not elsewhere."""
    total = flow.new_zeros(())
    for dim in (-1, -2):
        edge = torch.exp(-EDGES * img.diff(dim=dim).abs().mean(1, keepdim=True))
        total = total + (edge * flow.diff(dim=dim).abs()).mean()
    return total


def unsupervised_loss(forward: list[torch.Tensor], backward: list[torch.Tensor], img1: torch.Tensor,
                      img2: torch.Tensor, gamma: float = 0.8) -> torch.Tensor:
    """The loss of the flows [final, ..., first] from ``img1`` to ``img2`` (``forward``) and back (``backward``),
    the final pair weighted 1 and each earlier one ``gamma`` times the next."""
    total = img1.new_zeros(())
    for i, (fw, bw) in enumerate(zip(forward, backward)):
        fw, bw = fw.float(), bw.float()
        seen1 = consistency_mask(fw.detach(), bw.detach())
        seen2 = consistency_mask(bw.detach(), fw.detach())
        term = (census_error(img1, img2, fw, seen1) + census_error(img2, img1, bw, seen2)
                + SMOOTHNESS * (smoothness(fw, img1) + smoothness(bw, img2)))
        total = total + gamma ** i * term
    return total
