"""FlowNetS structure: size of the paper's network, any input size, training outputs."""

import pytest
import torch

from flownet.models import FlowNetS


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_full_width_has_the_papers_parameter_count():
    assert n_params(FlowNetS(width=1.0)) == pytest.approx(38.7e6, rel=0.01)


def test_width_scales_the_network():
    assert n_params(FlowNetS(width=0.5)) == pytest.approx(n_params(FlowNetS(width=1.0)) / 4, rel=0.05)


@pytest.mark.parametrize("size", [(100, 130), (64, 64), (37, 250)])
def test_eval_returns_full_resolution_flow_for_any_size(size):
    model = FlowNetS(width=0.25).eval()
    img = torch.rand(2, 3, *size)
    with torch.no_grad():
        flow = model(img, img)
    assert flow.shape == (2, 2, *size)
    assert torch.isfinite(flow).all()


def test_train_mode_returns_five_scales():
    model = FlowNetS(width=0.25, batch_norm=True).train()
    flows = model(torch.rand(2, 3, 128, 192), torch.rand(2, 3, 128, 192))
    assert [tuple(f.shape[-2:]) for f in flows] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_train_mode_rejects_sizes_that_are_not_multiples_of_64():
    with pytest.raises(ValueError, match="multiple of 64"):
        FlowNetS(width=0.25).train()(torch.rand(1, 3, 100, 128), torch.rand(1, 3, 100, 128))


def test_eval_output_is_flow2_upsampled_and_scaled():
    """Eval output = bilinear x4 of flow2 times div_flow, cropped back after padding to 64."""
    model = FlowNetS(width=0.25, div_flow=20.0).eval()
    a, b = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        flow = model(a, b)
        model.train()
        flow2 = model(a, b)[0]
    up = torch.nn.functional.interpolate(flow2, scale_factor=4, mode="bilinear", align_corners=False) * 20
    assert torch.allclose(flow, up, atol=1e-5)
