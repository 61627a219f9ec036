"""Flow networks written in this project."""

from .flownets import FlowNetS

__all__ = ["FlowNetS"]
