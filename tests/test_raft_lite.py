"""RAFT-lite (flownet.models.raft_lite, corr): the correlation lookup against a brute-force computation, the global
match, convex upsampling, any input size, and training from the command line."""

import numpy as np
import pytest
import torch

from flownet.models import RAFTLite, get_model
from flownet.models.corr import CorrPyramid, all_pairs, soft_match
from flownet.models.raft_lite import convex_upsample


def brute_force_lookup(f1: np.ndarray, f2: np.ndarray, coords: np.ndarray, levels: int, r: int) -> np.ndarray:
    """Loops over every pixel, level and offset: <f1(p), f2(q)> / sqrt(D) pooled over 2^l x 2^l blocks of q, read
    bilinearly at coords(p) / 2^l + (dx, dy), zero outside; channels level-major, then dy, then dx."""
    d, h, w = f1.shape
    vol = np.einsum("dyx,dij->yxij", f1, f2) / np.sqrt(d)  # [y1, x1, y2, x2]
    out = np.zeros(((2 * r + 1) ** 2 * levels, h, w))
    for level in range(levels):
        s = 2 ** level
        pooled = vol.reshape(h, w, h // s, s, w // s, s).mean(axis=(3, 5))
        hl, wl = pooled.shape[2:]
        for y in range(h):
            for x in range(w):
                cx, cy = coords[0, y, x] / s, coords[1, y, x] / s
                for iy, dy in enumerate(range(-r, r + 1)):
                    for ix, dx in enumerate(range(-r, r + 1)):
                        px, py = cx + dx, cy + dy
                        x0, y0 = int(np.floor(px)), int(np.floor(py))
                        value = 0.0
                        for xi, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
                            for yi, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
                                if 0 <= xi < wl and 0 <= yi < hl:
                                    value += wx * wy * pooled[y, x, yi, xi]
                        out[level * (2 * r + 1) ** 2 + iy * (2 * r + 1) + ix, y, x] = value
    return out


def test_correlation_lookup_matches_brute_force():
    """Fractional, non-square positions on an 8 x 12 grid: catches x/y swapped, a half-pixel shift in the sampling
    grid, a wrong level scale and a wrong channel order."""
    g = torch.Generator().manual_seed(0)
    f1, f2 = torch.randn(1, 5, 8, 12, generator=g, dtype=torch.float64), torch.randn(1, 5, 8, 12, generator=g,
                                                                                     dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(8.0), torch.arange(12.0), indexing="ij")
    coords = torch.stack([xs + 1.3 * torch.sin(ys), ys - 0.7 + 0.4 * xs / 12])[None].double()
    got = CorrPyramid(f1, f2, levels=3, radius=2).lookup(coords)[0].numpy()
    want = brute_force_lookup(f1[0].numpy(), f2[0].numpy(), coords[0].numpy(), levels=3, r=2)
    assert got.shape == want.shape == (3 * 25, 8, 12)
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_soft_match_finds_a_translation():
    """Distinct, strongly peaked features moved by (dx, dy) = (2, -1): the global match is that flow (u first)."""
    g = torch.Generator().manual_seed(1)
    big = 30 * torch.randn(1, 16, 12, 14, generator=g)
    f1 = big[..., 2:10, 2:12]
    f2 = big[..., 3:11, 0:10]  # f2 at p + (2, -1) is f1 at p
    flow = soft_match(all_pairs(f1, f2), f1.shape)
    inner = flow[0, :, 2:-2, 3:-3]
    assert torch.allclose(inner[0], torch.full_like(inner[0], 2.0), atol=1e-3)
    assert torch.allclose(inner[1], torch.full_like(inner[1], -1.0), atol=1e-3)


def test_convex_upsampling_places_each_coarse_flow_at_its_own_8x8_block():
    """A mask that selects the centre neighbour: the fine flow is 8 x the coarse one, block by block. Catches a
    transposed block layout or a missing x8 of the units."""
    flow = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)
    mask = torch.full((1, 9, 8, 8, 3, 4), -1e4)
    mask[:, 4] = 0
    up = convex_upsample(flow, mask.view(1, 9 * 64, 3, 4))
    want = 8 * flow.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
    assert torch.allclose(up, want)


def test_any_input_size_and_training_outputs():
    torch.manual_seed(0)
    model = RAFTLite(feature_dim=16, hidden_dim=16, context_dim=16, iters=2)
    with torch.no_grad():
        flow = model.eval()(torch.rand(1, 3, 37, 53), torch.rand(1, 3, 37, 53))
    assert flow.shape == (1, 2, 37, 53) and torch.isfinite(flow).all()
    flows = model.train()(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    assert len(flows) == 3 and all(f.shape == (2, 2, 64, 64) for f in flows)  # [final, iteration 1, initial]
    assert type(get_model("raft-lite")) is RAFTLite


@pytest.mark.slow
def test_train_raft_lite_from_the_command_line(tmp_path):
    """`flownet train --model raft-lite --data synthetic --epochs 1` runs and its weights load for inference."""
    import subprocess
    import sys

    from flownet.weights import load_model

    r = subprocess.run([sys.executable, "-m", "flownet.cli", "train", "--model", "raft-lite", "--data", "synthetic",
                        "--epochs", "1", "--synthetic-length", "4", "--batch-size", "2", "--crop", "64x64",
                        "--val-size", "1", "--num-workers", "0", "--grad-clip", "1", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    model = load_model(tmp_path / "run" / "model.pt")
    assert isinstance(model, RAFTLite)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 40, 48), torch.rand(1, 3, 40, 48)).shape == (1, 2, 40, 48)


@pytest.mark.parametrize("scale, size, inner, shift", [
    (1.0, (44, 61), (slice(8, 40), slice(8, 56)), 8),  # (inner: away from the border blocks of the 1/8 grid)
    (0.5, (48, 64), (slice(20, 28), slice(20, 44)), 16),
], ids=["full-size", "half-size"])
def test_raft_lite_dis_adds_its_correction_to_the_full_size_dis_flow(scale, size, inner, shift):
    """With its flow head zeroed (no correction) raft-lite-dis returns OpenCV's DIS flow itself at full size (a size
    that is not a multiple of 8; at scale 0.5 the network sees 24 x 32 images, DIS the full-size ones); a constant
    correction of c px at 1/8 of the network's images moves every inner pixel by 8 c / scale. Catches the initial
    flow passed through the 1/8 grid (DIS's detail lost), DIS run on the shrunk images, the correction not scaled
    to full-size pixels, or the padding left in the output."""
    from flownet.classical import classical_flow_fn

    torch.manual_seed(0)
    img1 = torch.rand(1, 3, *size)
    img2 = torch.roll(img1, shifts=(1, 2), dims=(2, 3))
    model = get_model("raft-lite-dis", scale=scale, feature_dim=16, hidden_dim=8, context_dim=8, levels=2,
                      radius=1).eval()
    torch.nn.init.zeros_(model.flow_head[-1].weight)
    torch.nn.init.zeros_(model.flow_head[-1].bias)
    dis = classical_flow_fn("dis-medium")(img1, img2)
    with torch.no_grad():
        assert torch.equal(model(img1, img2), dis)
        model.flow_head[-1].bias.copy_(torch.tensor([0.25, -0.5]))
        moved = model(img1, img2, iters=2)  # two iterations: 2 x the bias at 1/8
    got = (moved - dis)[..., inner[0], inner[1]]
    want = torch.tensor([0.5 * shift, -1.0 * shift]).view(1, 2, 1, 1).expand_as(got)
    assert torch.allclose(got, want, atol=1e-4)
    assert model.config_dict()["scale"] == scale


def test_training_takes_the_scale_flag_over_the_weights_it_starts_from(tmp_path):
    """--init of raft-lite-dis weights at scale 1 with --scale 0.5 trains at 0.5 (the weights fit: a scale has
    none); without --scale the run keeps the weights' scale."""
    from flownet.config import TrainConfig
    from flownet.training import model_options
    from flownet.weights import save_weights

    save_weights(get_model("raft-lite-dis", feature_dim=16, hidden_dim=8, context_dim=8), tmp_path / "w.pt")
    cfg = TrainConfig(model="raft-lite-dis", init=str(tmp_path / "w.pt"))
    assert model_options(cfg)["scale"] == 1.0 and model_options(cfg)["feature_dim"] == 16
    cfg.scale = 0.5
    assert model_options(cfg) == {**model_options(TrainConfig(model="raft-lite-dis", init=cfg.init)), "scale": 0.5}

