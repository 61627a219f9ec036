"""The chairs-like generator: the written flow is the true motion, known motions come out exactly."""

import math

import torch
import torch.nn.functional as F

from flownet.synth import SynthConfig, TexturePools, render_pairs

SMALL = dict(height=64, width=96)


def warp_back(img2, flow):
    """Independent backward warp: img2 sampled at p + flow(p) (pixel centres at integers)."""
    _, _, h, w = img2.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    gx = (xs + flow[:, 0]) / (w - 1) * 2 - 1
    gy = (ys + flow[:, 1]) / (h - 1) * 2 - 1
    return F.grid_sample(img2, torch.stack([gx, gy], -1), mode="bilinear", align_corners=True)


def test_shapes_ranges_and_determinism():
    a = render_pairs(torch.Generator().manual_seed(3), 3, SynthConfig(**SMALL))
    b = render_pairs(torch.Generator().manual_seed(3), 3, SynthConfig(**SMALL))
    assert a["img1"].shape == (3, 3, 64, 96) and a["flow"].shape == (3, 2, 64, 96) and a["valid"].all()
    assert 0 <= a["img1"].min() and a["img1"].max() <= 1
    for k in a:
        assert torch.equal(a[k], b[k])
    c = render_pairs(torch.Generator().manual_seed(4), 3, SynthConfig(**SMALL))
    assert not torch.equal(a["img1"], c["img1"])


def test_background_only_translation_is_exact():
    cfg = SynthConfig(**SMALL, min_objects=0, max_objects=0, background_motion=(5.0, 5.0),
                      max_rotation_deg=0.0, max_scale_change=0.0, static_fraction=0.0)
    s = render_pairs(torch.Generator().manual_seed(0), 4, cfg)
    mag = s["flow"].norm(dim=1)
    assert torch.allclose(mag, torch.full_like(mag, 5.0), atol=1e-3)
    assert s["flow"].std(dim=(2, 3)).max() < 1e-3  # one translation per pair


def test_static_pairs_have_zero_flow():
    s = render_pairs(torch.Generator().manual_seed(1), 2, SynthConfig(**SMALL, static_fraction=1.0))
    assert s["flow"].abs().max() < 1e-4
    assert (s["img1"] - s["img2"]).abs().mean() < 0.1  # only the photometric change


def test_flow_maps_first_frame_pixels_onto_the_second():
    """I1(p) ~ I2(p + F(p)) except near occlusions: the residual is far below the zero-flow one."""
    cfg = SynthConfig(height=128, width=160)
    s = render_pairs(torch.Generator().manual_seed(2), 4, cfg)
    residual = (warp_back(s["img2"], s["flow"]) - s["img1"]).abs().mean(1)
    zero = (s["img2"] - s["img1"]).abs().mean(1)
    moving = s["flow"].norm(dim=1) > 2
    assert residual[moving].median() < 0.5 * zero[moving].median()
    assert residual.median() < 0.06


def test_motion_sizes_span_sub_pixel_to_tens_of_pixels():
    s = render_pairs(torch.Generator().manual_seed(5), 16, SynthConfig(height=96, width=128))
    mag = s["flow"].norm(dim=1).flatten()
    assert (mag < 1).float().mean() > 0.03
    assert (mag > 15).float().mean() > 0.005
    assert mag.max() < 40 * math.sqrt(2) + 40


def test_texture_pools_render_the_same_kind_of_scene():
    gen = torch.Generator().manual_seed(0)
    cfg = SynthConfig(**SMALL)
    pools = TexturePools(gen, cfg, backgrounds=4, objects=16)
    s = render_pairs(gen, 2, cfg, pools=pools)
    residual = (warp_back(s["img2"], s["flow"]) - s["img1"]).abs().mean(1)
    assert residual.median() < 0.06
