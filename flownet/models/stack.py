"""Two FlowNetS stacked as in FlowNet 2.0 (Ilg et al., CVPR 2017).

The first network estimates the flow; the second sees image 1, image 2, image 2 warped back by that flow, the flow
itself and the brightness error it leaves, and predicts a correction. The first stage is trained on its own
(the shipped FlowNetS) and stays frozen while the second is trained (``flownet train --model flownets-stack
--init FIRST.pt``); the second's prediction layers start near zero, so the untrained stack gives the first flow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..warp import backward_warp
from .flownets import FlowNetS

SECOND_INPUT = 3 + 3 + 3 + 2 + 1  # image 1, image 2, image 2 warped, flow, brightness error


@dataclass(frozen=True)
class StackConfig:
    width: float = 0.5  # of the second network
    batch_norm: bool = True
    div_flow: float = 20.0
    first_width: float = 0.5


class FlowNetStack(nn.Module):
    """``forward(img1, img2)`` as FlowNetS's: eval mode B x 2 x H x W flow in pixels; train mode the second
    network's multiscale list [flow2 ... flow6] in flow / ``div_flow`` units (first flow + correction)."""

    def __init__(self, width: float = 0.5, batch_norm: bool = True, div_flow: float = 20.0,
                 first_width: float = 0.5) -> None:
        super().__init__()
        self.config = StackConfig(width, batch_norm, div_flow, first_width)
        self.first = FlowNetS(first_width, batch_norm, div_flow).requires_grad_(False).eval()
        self.second = FlowNetS(width, batch_norm, div_flow, in_channels=SECOND_INPUT)

    def train(self, mode: bool = True) -> "FlowNetStack":
        """The first network stays in eval mode (frozen, BatchNorm statistics included)."""
        super().train(mode)
        self.first.eval()
        return self

    def forward(self, img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.first.training:  # a trainer may restore modes module by module, bypassing ``train``
            self.first.eval()
        with torch.no_grad():
            flow = self.first(img1, img2)
        warped = backward_warp(img2, flow)[0]
        error = (img1 - warped).abs().mean(1, keepdim=True)
        scaled = flow / self.config.div_flow
        x = torch.cat([img1 - 0.5, img2 - 0.5, warped - 0.5, scaled, error], dim=1)
        out = self.second.predict(x)
        if self.training:
            return [o + F.adaptive_avg_pool2d(scaled, o.shape[-2:]) for o in out]
        return flow + out

    def config_dict(self) -> dict:
        return asdict(self.config)
