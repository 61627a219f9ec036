"""Networks written in this project, and their registry: ``get_model(name, **config)``.

Flow models (``B x 3 x H x W`` pair -> ``B x 2 x H x W`` flow in pixels, in eval mode):
  - ``flownets``: FlowNetS (Dosovitskiy et al., ICCV 2015), the shipped model.
  - ``flownets-stack``: FlowNet 2.0's stacking (Ilg et al., CVPR 2017): a second FlowNetS refines the first's flow
    from the second image warped by it.
  - ``raft-lite``: a small RAFT (correlation pyramid, ConvGRU) starting from a global match.
  - ``raft-lite-dis``: the same network as a learned correction of OpenCV's DIS flow.
Interpolation: ``synthesis``: the learned synthesis of the frame at time t (``SynthesisNet``).
"""

from __future__ import annotations

from torch import nn

from .flownets import FlowNetS
from .raft_lite import RAFTLite, RAFTLiteDIS
from .stack import FlowNetStack
from .synthesis import SynthesisNet

MODELS: dict[str, type[nn.Module]] = {"flownets": FlowNetS, "flownets-stack": FlowNetStack, "raft-lite": RAFTLite,
                                      "raft-lite-dis": RAFTLiteDIS, "synthesis": SynthesisNet}
FLOW_MODELS = ("flownets", "flownets-stack", "raft-lite", "raft-lite-dis")


def get_model(name: str, **config) -> nn.Module:
    """A new (untrained) model of the registered ``name`` with ``config`` (its constructor arguments)."""
    from ..errors import FlowNetError

    if name not in MODELS:
        raise FlowNetError(f"unknown model '{name}' (use {', '.join(MODELS)})")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    """The registry name of ``model``'s class."""
    return next(name for name, cls in MODELS.items() if type(model) is cls)


__all__ = ["FLOW_MODELS", "MODELS", "FlowNetS", "FlowNetStack", "RAFTLite", "RAFTLiteDIS", "SynthesisNet", "get_model", "model_name"]
