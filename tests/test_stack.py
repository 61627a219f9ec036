"""FlowNet 2.0-style stack (models/stack.py): the frozen first stage, the corrected flow, training from the shipped
FlowNetS through the command."""

import subprocess
import sys

import torch

from flownet.models import FlowNetS, FlowNetStack, get_model
from flownet.weights import default_checkpoint, load_model, read_checkpoint


def test_second_stage_sees_the_warped_image_and_corrects_the_first_flow():
    stack = get_model("flownets-stack", width=0.25, batch_norm=True, first_width=0.25).eval()
    assert isinstance(stack.second, FlowNetS) and stack.second.config.in_channels == 12
    a, b = torch.rand(1, 3, 70, 90), torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        first = stack.first(a, b)
        for m in [stack.second.predict6, *stack.second.predicts]:
            torch.nn.init.zeros_(m.weight)  # no correction: the stack gives the first flow exactly
        assert torch.allclose(stack(a, b), first, atol=1e-6)


def test_training_leaves_the_first_stage_alone():
    stack = get_model("flownets-stack", width=0.25, batch_norm=True, first_width=0.25)
    stack.train()
    assert not stack.first.training and stack.second.training
    assert not any(p.requires_grad for p in stack.first.parameters())
    preds = stack(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    assert [p.shape[-1] for p in preds] == [16, 8, 4, 2, 1]
    sum(p.abs().mean() for p in preds).backward()
    assert all(p.grad is None for p in stack.first.parameters())


def test_train_stack_from_the_shipped_first_stage(tmp_path):
    """``flownet train --model flownets-stack --init SHIPPED``: the exported stack holds the shipped weights as its
    first stage, unchanged, and a trained second stage."""
    shipped = default_checkpoint("flownets")
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "train", "--model", "flownets-stack", "--init",
                        str(shipped), "--batch-norm", "--width", "0.25", "--data", "synthetic", "--out", str(run),
                        "--epochs", "1", "--synthetic-length", "4", "--val-size", "2", "--batch-size", "2",
                        "--crop", "64x128", "--num-workers", "0"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    stack = load_model(run / "model.pt")
    assert isinstance(stack, FlowNetStack)
    _, shipped_state, _ = read_checkpoint(shipped)
    for k, v in stack.first.state_dict().items():
        assert torch.equal(v, shipped_state[k].float()), k
