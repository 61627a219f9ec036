"""FlowNetS structure: size of the paper's network, any input size, training outputs."""

import pytest
import torch

from flownet.models import FlowNetS


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_full_width_has_the_papers_parameter_count():
    """Exactly: one prediction head of the smallest level (2 x 194 x 9 = 3,492 weights) is 0.01 % of the total."""
    assert n_params(FlowNetS(width=1.0)) == 38_675_536
    assert n_params(FlowNetS(width=0.5, batch_norm=True)) == 9_696_336  # the shipped model's configuration


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


def random_model(width: float = 0.25, seed: int = 0) -> FlowNetS:
    """An untrained network with weights large enough that its flow varies across the image."""
    torch.manual_seed(seed)
    model = FlowNetS(width=width).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def edge_canvas(img: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``img`` at the top-left of an h x w canvas, its last row and column repeated into the rest (by indexing)."""
    rows = torch.arange(h).clamp(max=img.shape[-2] - 1)
    cols = torch.arange(w).clamp(max=img.shape[-1] - 1)
    return img[..., rows, :][..., cols]


@pytest.mark.parametrize("size", [(37, 250), (100, 130), (64, 90), (75, 128)])
def test_odd_sizes_are_padded_bottom_right_and_cropped_back(size):
    """The flow of an odd-size pair is the top-left part of the flow of the same pair on a canvas of the next
    multiple of 64 (no padding there): padding anywhere else, or cropping another part, moves the field."""
    model = random_model()
    h, w = size
    a, b = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
    ch, cw = -(-h // 64) * 64, -(-w // 64) * 64
    with torch.inference_mode():
        flow = model(a, b)
        on_canvas = model(edge_canvas(a, ch, cw), edge_canvas(b, ch, cw))
    assert on_canvas.shape[-2:] == (ch, cw) and flow.shape[-2:] == (h, w)
    assert flow.abs().max() > 0.5 and (flow - flow.mean((2, 3), keepdim=True)).abs().max() > 0.1  # not flat
    torch.testing.assert_close(flow, on_canvas[..., :h, :w], atol=1e-4, rtol=0)


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
