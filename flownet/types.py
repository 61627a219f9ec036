"""Types shared across the package."""

from __future__ import annotations

from typing import Callable

import torch

FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A flow estimator: two B x 3 x H x W images in [0, 1] -> B x 2 x H x W float32 flow in pixels (u, v), on the CPU."""

Sample = dict[str, torch.Tensor]
"""One pair: ``img1``, ``img2`` (3 x H x W float in [0, 1]), ``flow`` (2 x H x W, pixels), ``valid`` (H x W bool)."""
