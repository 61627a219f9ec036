"""The learning-rate schedule of every training in flownet (flow models, the learned synthesis)."""

from __future__ import annotations

import math

from .errors import FlowNetError


class Schedule:
    """The learning-rate factor at each optimiser step of a run of ``total`` steps: 'multistep' halves it at the
    ``milestones`` (fractions of the run), as FlowNet; 'cosine' warms up linearly over ``warmup`` steps, then
    decays along a cosine to 5 % at the end.

    Its attributes are saved in Lightning checkpoints (LambdaLR keeps a callable's ``__dict__``). ``replan``
    stretches or shrinks the rest of the run to a new total without a jump: multistep keeps the current factor
    until the new milestones bring a lower one; cosine descends from the current factor to 5 % at the new end."""

    FLOOR = 0.05  # of the cosine schedule

    def __init__(self, kind: str, total: int, milestones: tuple[float, ...] = (0.5, 0.75), warmup: int = 0) -> None:
        if kind not in ("multistep", "cosine"):
            raise FlowNetError(f"unknown schedule '{kind}' (use multistep or cosine)")
        self.kind, self.total, self.milestones, self.warmup = kind, total, tuple(milestones), warmup
        self.anchor: tuple[int, float] | None = None  # (step, factor) where a replanned run takes over

    def __call__(self, step: int) -> float:
        if self.kind == "multistep":
            planned = 0.5 ** sum(step >= max(1, int(f * self.total)) for f in self.milestones)
            return planned if self.anchor is None else min(self.anchor[1], planned)
        if self.anchor is None and step < self.warmup:
            return (step + 1) / self.warmup
        start, top = self.anchor or (self.warmup, 1.0)
        t = min(1.0, max(0, step - start) / max(1, self.total - start))
        return self.FLOOR + (top - self.FLOOR) * 0.5 * (1 + math.cos(math.pi * t))

    def replan(self, step: int, total: int) -> None:
        """Continue from ``step`` (the factor there stays) to the end of a run of ``total`` steps."""
        if not (self.kind == "cosine" and step < self.warmup):  # (a warm-up does not depend on the total)
            self.anchor = (step, self(step))
        self.total = total
