"""flownet: optical flow with a hand-written FlowNetS, and flow-based frame interpolation.

    from flownet import FlowNetS, load_model, read_flo, write_flo

The names are imported on first use, so that ``import flownet.cli`` (and ``flownet --help``) loads no torch.
"""

from importlib import import_module

from .errors import FlowNetError

_LAZY = {"FlowNetS": ".models", "load_model": ".weights", "read_flo": ".io", "write_flo": ".io"}

__all__ = ["FlowNetError", "FlowNetS", "load_model", "read_flo", "write_flo"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
