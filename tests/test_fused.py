"""The CPU fast paths of models/fused.py against torch's own layers: oneDNN's fused inference (packed weights,
BatchNorm folded, LeakyReLU fused), the training layouts and the tap-sum flow predictor; when each steps aside."""

import contextlib
import copy
import pickle

import pytest
import torch
from torch import nn

from flownet.models import FlowNetS, flownets, fused


@contextlib.contextmanager
def torch_layers_only():
    """Run the model as on a torch build without oneDNN's fused operators."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "onednn_available", lambda: False)
        yield


def test_channels_last_input_gives_the_same_flow():
    model = FlowNetS(width=0.25).eval()
    a, b = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        ref = model(a, b)
        cl = model(a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, cl, atol=1e-5) and cl.is_contiguous()


def test_fused_layers_compute_what_torchs_layers_do():
    """The oneDNN path (packed weights, BatchNorm folded in, LeakyReLU fused) against torch's own layers, on
    NCHW and channels_last inputs, after a size change and after new weights are loaded."""
    torch.manual_seed(0)
    conv = flownets.conv_block(8, 16, 3, 2, batch_norm=True)
    conv[1].running_mean.uniform_(-1, 1), conv[1].running_var.uniform_(0.5, 2), conv[1].weight.data.uniform_(0.5, 2)
    layers = [conv.eval(), flownets.deconv_block(8, 4).eval(), flownets.predict_flow(8), flownets.upsample_flow(),
              fused.Conv2d(8, 4, 3, 1, 1, bias=True)]
    for layer in layers:
        c = (layer[0] if isinstance(layer, nn.Sequential) else layer).in_channels
        for x in (torch.rand(2, c, 13, 10), torch.rand(1, c, 7, 9).contiguous(memory_format=torch.channels_last)):
            with torch.inference_mode():
                fast = layer(x)
                with torch_layers_only():
                    plain = layer(x)
            assert fast.shape == plain.shape and torch.allclose(fast, plain, atol=1e-5), layer
    other = flownets.conv_block(8, 16, 3, 2, batch_norm=True).eval()
    x = torch.rand(2, 8, 13, 10)
    with torch.inference_mode():
        before = conv(x)
        conv.load_state_dict(other.state_dict())  # the packed weights follow
        after, want = conv(x), nn.Sequential.forward(other, x)
    assert torch.allclose(after, want, atol=1e-5) and not torch.allclose(before, after, atol=1e-3)
    with torch.inference_mode():  # weights made here keep no version counter: still no stale packed copy
        made = flownets.conv_block(8, 4, 3, 1, batch_norm=False).eval()
        made[0].bias.zero_()
        first = made(x)
        made[0].weight.mul_(2)  # LeakyReLU(2 z) = 2 LeakyReLU(z)
        assert torch.allclose(made(x), 2 * first, atol=1e-5)


def test_weights_are_packed_once_per_input_size(monkeypatch):
    """Pairs of a few sizes in turn (a Middlebury folder): each layer packs once per size, not at every change of
    size, and every size still gives torch's result; new weights drop the packed copies."""
    torch.manual_seed(0)
    conv = flownets.conv_block(8, 16, 3, 2, batch_norm=True).eval()
    packs = []
    real_pack = type(conv[0])._pack
    monkeypatch.setattr(type(conv[0]), "_pack", lambda self, w, size: packs.append(size) or real_pack(self, w, size))
    sizes = [(13, 10), (9, 14), (13, 10), (9, 14), (13, 10)]
    with torch.inference_mode():
        for h, w in sizes:
            x = torch.rand(1, 8, h, w)
            fast = conv(x)
            with torch_layers_only():
                assert torch.allclose(fast, conv(x), atol=1e-5)
        assert len(packs) == 2
    with torch.no_grad():
        conv[0].weight.mul_(2)
        conv(torch.rand(1, 8, 13, 10))
    assert len(packs) == 3


def test_model_fast_path_matches_torchs_layers_and_steps_aside_for_autograd():
    model = FlowNetS(width=0.25, batch_norm=True).eval()
    a, b = torch.rand(2, 3, 70, 100), torch.rand(2, 3, 70, 100)
    with torch.inference_mode():
        fast = model(a, b)
        with torch_layers_only():
            plain = model(a, b)
    assert fast.is_contiguous() and torch.allclose(fast, plain, atol=1e-4)
    with torch.inference_mode():  # copies and pickles leave the packed weights (opaque tensors) behind
        assert torch.equal(copy.deepcopy(model)(a, b), fast)
        assert torch.equal(pickle.loads(pickle.dumps(model))(a, b), fast)
    a.requires_grad_(True)  # a gradient is wanted: torch's layers run
    model(a, b).square().mean().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_training_layouts_give_the_same_gradients(monkeypatch):
    """CPU training keeps large tensors in channels_last and small ones in NCHW: same loss and gradients as NCHW."""
    from flownet.metrics import multiscale_loss

    torch.manual_seed(0)
    model = FlowNetS(width=0.25, batch_norm=True).train()
    a, b, gt = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128), torch.randn(2, 2, 128, 128)
    grads = {}
    for name, threshold in (("nchw", 10**9), ("mixed", 2 * 32 * 32)):  # mixed: 1/4 and larger in channels_last
        monkeypatch.setattr(fused, "CL_POSITIONS", threshold)
        model.zero_grad()
        flows = model(a, b)
        multiscale_loss(flows, gt).backward()
        grads[name] = [p.grad.clone() for p in model.parameters()]
        layouts = [f.is_contiguous(memory_format=torch.channels_last) and not f.is_contiguous() for f in flows]
        assert layouts == ([False] * 5 if name == "nchw" else [True, False, False, False, False]), layouts
    # rounding only: up to 0.5 % on a bias whose gradient is a sum with cancellation (one thread; 1e-5 overall),
    # where a layout mistake (a transposed or misplaced gradient) is of the order of the gradient itself
    assert all((g - h).norm() < 1e-2 * g.norm() for g, h in zip(grads["nchw"], grads["mixed"]))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_flow_predictor_in_training_is_the_3x3_convolution(layout):
    """CPU training computes the 2-channel predictor as a 1x1 convolution to (tap, channel) products summed over
    shifted taps: the same output and the same gradients as torch's 3x3 convolution with that weight."""
    torch.manual_seed(0)
    predictor = flownets.predict_flow(12).train()
    nn.init.normal_(predictor.weight)
    x = torch.randn(2, 12, 9, 13).contiguous(memory_format=layout).requires_grad_()
    out = predictor(x)
    want_x = x.detach().clone().requires_grad_()
    want_w = predictor.weight.detach().clone().requires_grad_()
    want = torch.nn.functional.conv2d(want_x, want_w, padding=1)
    assert out.shape == want.shape and torch.allclose(out, want, atol=1e-5)
    grad = torch.randn_like(want)
    out.backward(grad)
    want.backward(grad)
    assert torch.allclose(x.grad, want_x.grad, atol=1e-5)
    assert torch.allclose(predictor.weight.grad, want_w.grad, atol=1e-4)


def test_fused_path_is_taken_only_for_cpu_inference():
    """fused_dtype: fp32 (or bf16 under CPU autocast) in eval mode without autograd; None (torch's layers) in
    training, when a gradient is wanted, for dtypes oneDNN's path does not take, and on a build without it."""
    if not fused.onednn_available():
        pytest.skip("this torch build has no oneDNN fused convolutions")
    conv = fused.Conv2d(3, 4, 3, 1, 1).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert fused.fused_dtype(x, conv) == torch.float32
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert fused.fused_dtype(x, conv) == torch.bfloat16
        assert fused.fused_dtype(x.double(), conv) is None
        assert fused.fused_dtype(x, conv.train()) is None
        with torch_layers_only():
            assert fused.fused_dtype(x, conv.eval()) is None
    assert fused.fused_dtype(x, conv.eval()) is None  # autograd on and the weights want gradients
