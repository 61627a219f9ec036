"""Multi-process training (DDP over gloo on the CPU) gives the result of one process with the same global batch."""

import subprocess
import sys

import pytest
import torch

from flownet.data import write_synthetic_chairs
from flownet.weights import read_checkpoint

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")


def train(data, out, *extra):
    args = ["train", "--data", data, "--out", out, "--width", "0.25", "--crop", "64x64", "--num-workers", "0",
            "--accelerator", "cpu", "--no-augment", "--max-steps", "2", "--epochs", "5", "--lr", "1e-3", *extra]
    r = subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return read_checkpoint(out / "model.pt")[1]


def test_ddp_two_processes_equal_one(tmp_path):
    data = tmp_path / "d"
    write_synthetic_chairs(data, 10, (64, 64), seed=5)  # 8 training pairs: 2 steps of a global batch of 4
    single = train(data, tmp_path / "single", "--batch-size", "4", "--devices", "1")
    ddp = train(data, tmp_path / "ddp", "--batch-size", "2", "--devices", "2", "--strategy", "ddp")
    assert single.keys() == ddp.keys()
    diff = max(float((single[k].float() - ddp[k].float()).abs().max()) for k in single)
    assert diff < 2e-5, diff  # Adam's first steps move every weight by ~lr = 1e-3: different batches differ by that
