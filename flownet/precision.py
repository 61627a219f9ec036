"""The machine's CPU (model name, ISA flags) and the numeric precision to compute in: fp32, or bf16 autocast where
the hardware does bf16 natively (CUDA, or a CPU with AVX512_BF16 or AMX). The flow returned is always fp32."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .errors import FlowNetError

PRECISIONS = ("fp32", "bf16", "auto")


def cpu_info() -> tuple[str, set[str]]:
    """(CPU model name, ISA flags) from /proc/cpuinfo (('unknown', {}) where there is none)."""
    model, flags = "unknown", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return model, flags


def isa_level(flags: set[str]) -> str:
    """The best matrix-math ISA among the flags: AMX, AVX512_BF16, AVX-512, AVX2 only, or none of them."""
    for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512_BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2 only")):
        if flag in flags:
            return name
    return "no AVX2"


def native_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes bf16 natively (avx512_bf16 or amx_bf16)."""
    return bool({"avx512_bf16", "amx_bf16"} & (cpu_info()[1] if flags is None else flags))


def cpu_can_bf16() -> bool:
    """Whether oneDNN computes bf16 on this CPU at all (natively or emulated: AVX-512 BW/VL/DQ or AVX-NE-CONVERT);
    on an AVX2-only CPU its bf16 convolutions refuse to run."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: str | torch.device = "cpu", flags: set[str] | None = None) -> str:
    """'fp32' or 'bf16'; 'auto' = bf16 on CUDA or on a CPU with native bf16, else fp32; 'bf16' on a CPU that cannot
    compute it is a FlowNetError (not a traceback from inside oneDNN)."""
    if precision not in PRECISIONS:
        raise FlowNetError(f"unknown precision '{precision}' (use {', '.join(PRECISIONS)})")
    kind = torch.device(device).type
    if precision == "auto":
        return "bf16" if kind == "cuda" or native_bf16(flags) else "fp32"
    if precision == "bf16" and kind == "cpu" and not cpu_can_bf16():
        raise FlowNetError("--precision bf16: this CPU cannot compute bf16 (oneDNN needs AVX-512 BW/VL/DQ or "
                           "AVX-NE-CONVERT); use fp32, or auto (which picks fp32 here)")
    return precision


def autocast(precision: str, device: str | torch.device = "cpu") -> contextlib.AbstractContextManager:
    """bf16 autocast for precision 'bf16', else nothing."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
