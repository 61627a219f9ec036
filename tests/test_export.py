"""ONNX export: dynamic sizes, outputs equal PyTorch's."""

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="onnx is not installed (pip install -e '.[onnx]')")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[onnx]')")

from flownet.export import export_onnx, run_onnx  # noqa: E402
from flownet.models import FlowNetS  # noqa: E402
from flownet.weights import save_weights  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = FlowNetS(width=0.25).eval()
    with torch.no_grad():  # larger prediction weights than the init's, so the flow is far from zero
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return m


@pytest.mark.parametrize("size", [(64, 96), (100, 130)])
def test_onnx_matches_pytorch(model, tmp_path_factory, size):
    path = tmp_path_factory.getbasetemp() / "m.onnx"
    if not path.exists():
        export_onnx(model, path)
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, *size, generator=gen), torch.rand(2, 3, *size, generator=gen)
    with torch.no_grad():
        ref = model(a, b).numpy()
    out = run_onnx(path, a.numpy(), b.numpy())
    assert out.shape == ref.shape == (2, 2, *size)
    assert np.abs(ref).max() > 0.5  # a real test of the numbers, not of near-zero outputs
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)


def test_export_cli(model, tmp_path):
    save_weights(model, tmp_path / "w.pt")
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "export", "--onnx", str(tmp_path / "m.onnx"),
                        "--checkpoint", str(tmp_path / "w.pt")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = torch.rand(1, 3, 64, 70), torch.rand(1, 3, 64, 70)
    with torch.no_grad():
        ref = model(a, b).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", a.numpy(), b.numpy()), ref, atol=1e-4, rtol=0)
    bad = subprocess.run([sys.executable, "-m", "flownet.cli", "export", "--onnx", str(tmp_path / "m.txt"),
                          "--width", "0.25"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_export_refuses_models_the_tracer_would_fix_to_one_size(tmp_path):
    """raft-lite traced at one size gave flows off by up to 3.7 px at another (its lookup's sizes are Python
    numbers to the tracer): refused with one line, no file left, rather than written wrong."""
    from flownet.models import get_model

    model = get_model("raft-lite", feature_dim=16, hidden_dim=8, context_dim=8, levels=2, radius=1)
    save_weights(model, tmp_path / "r.pt")
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "export", "--onnx", str(tmp_path / "r.onnx"),
                        "--checkpoint", str(tmp_path / "r.pt")], capture_output=True, text=True)
    assert r.returncode == 2 and "flownets only" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.onnx").exists()
