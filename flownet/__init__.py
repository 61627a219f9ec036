"""flownet: optical flow with a hand-written FlowNetS, and flow-based frame interpolation.

    from flownet import FlowNetS, load_model, read_flo, write_flo
"""

from .errors import FlowNetError
from .io import read_flo, write_flo
from .models import FlowNetS
from .weights import load_model

__all__ = ["FlowNetError", "FlowNetS", "load_model", "read_flo", "write_flo"]
__version__ = "0.1.0"
