"""The learned interpolation synthesis (models/synthesis.py): shapes, times, and what an untrained network gives."""

import pytest
import torch

from flownet.interpolate import PairFlows, frame_at, learned_synthesis
from flownet.models import SynthesisNet, get_model
from flownet.weights import load_model, save_weights


def texture(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.interpolate(torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g), size=(h, w),
                                           mode="bicubic", align_corners=False).clamp(0, 1)


@pytest.mark.parametrize("size", [(37, 50), (64, 64), (17, 130)])
def test_any_size_and_time(size):
    net = SynthesisNet(8).eval()
    a, b = texture(*size), texture(*size, seed=1)
    flows = torch.zeros(1, 2, *size)
    with torch.no_grad():
        for t in (0.1, 0.5, 0.9):
            out = net(a, b, flows, flows, t)
            assert out.shape == a.shape
            # untrained: the last layer is zero, so with zero flow it is the plain blend (1 - t) I0 + t I1
            assert torch.allclose(out, (1 - t) * a + t * b, atol=1e-6)
        batch = net(a.expand(3, -1, -1, -1), b.expand(3, -1, -1, -1), flows.expand(3, -1, -1, -1),
                    flows.expand(3, -1, -1, -1), torch.tensor([0.1, 0.5, 0.9]))
        assert torch.allclose(batch[2], (0.1 * a + 0.9 * b)[0], atol=1e-6)


def test_untrained_network_moves_content_to_the_middle():
    """A texture moving 8 px to the right with exact flows both ways: at t = 0.5 the frame is the texture moved by
    4 px (compared with a crop of a wider texture, away from the borders): a sign or u/v error in the intermediate
    flows or the warping fails this."""
    wide = texture(48, 96)
    img0, mid, img1 = wide[..., 8:72], wide[..., 4:68], wide[..., 0:64]  # content moves right by 4 px per half
    f01 = torch.zeros(1, 2, 48, 64)
    f01[:, 0] = 8.0
    with torch.no_grad():
        out = SynthesisNet(8).eval()(img0, img1, f01, -f01, 0.5)
    inner = (..., slice(4, -4), slice(12, -12))
    assert (out[inner] - mid[inner]).abs().max() < 1e-4
    assert (img0[inner] - mid[inner]).abs().mean() > 0.02  # the test can tell a moved frame from an unmoved one


def test_untrained_visibility_takes_occluded_content_from_the_frame_that_shows_it(monkeypatch):
    """A bright square moves 8 px right over a static background, exact flows both ways. At t = 0.5 the strips it
    has just uncovered (frame 0 hides them) and is about to cover (frame 1 hides them) are background: the untrained
    network's consistency prior takes them from the frame that shows them, far closer to the truth than the plain
    blend of the two warped frames (PRIOR = 0); a flipped prior would be worse than the blend."""
    import flownet.models.synthesis as synthesis

    bg = texture(48, 64) * 0.5
    def frame(left: int) -> torch.Tensor:
        img = bg.clone()
        img[..., 16:32, left:left + 16] = 0.75 + 0.25 * texture(16, 16, seed=3)
        return img
    img0, truth, img1 = frame(20), frame(24), frame(28)
    f01, f10 = torch.zeros(1, 2, 48, 64), torch.zeros(1, 2, 48, 64)
    f01[:, 0, 16:32, 20:36] = 8.0
    f10[:, 0, 16:32, 28:44] = -8.0
    strips = [(..., slice(16, 32), slice(21, 24)), (..., slice(16, 32), slice(40, 43))]

    def error() -> float:
        with torch.no_grad():
            out = SynthesisNet(8).eval()(img0, img1, f01, f10, 0.5)
        return sum((out[s] - truth[s]).abs().mean().item() for s in strips)

    with_prior = error()
    monkeypatch.setattr(synthesis, "PRIOR", 0.0)
    assert with_prior < 0.5 * error()


def test_bf16_autocast_runs():
    net = SynthesisNet(8).eval()
    a, b = texture(32, 48), texture(32, 48, seed=2)
    flows = torch.zeros(1, 2, 32, 48)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(a, b, flows, flows, 0.5)
    assert out.shape == a.shape and torch.isfinite(out).all()


def test_saved_and_loaded_through_the_registry(tmp_path):
    net = get_model("synthesis", width=8)
    torch.nn.init.normal_(net.unet.out.weight, std=0.01)
    save_weights(net, tmp_path / "s.pt")
    loaded = load_model(tmp_path / "s.pt")
    assert isinstance(loaded, SynthesisNet)
    a, b = texture(32, 32), texture(32, 32, seed=3)
    ones = torch.ones(1, 1, 32, 32)
    flows = PairFlows("flow", torch.zeros(1, 2, 32, 32), torch.zeros(1, 2, 32, 32), ones, ones, ones, ones)
    synthesis = learned_synthesis(loaded)
    with torch.no_grad():
        assert torch.allclose(frame_at(a, b, flows, 0.5, synthesis), net.eval()(a, b, flows.f01, flows.f10, 0.5)
                              .clamp(0, 1), atol=1e-6)
    assert torch.equal(frame_at(a, b, PairFlows("same"), 0.5, synthesis), a)  # identical frames: copied


def test_adapt_fits_the_video_it_is_given(tmp_path):
    """interpolate --adapt's fine-tuning: on a clip of a texture panning (3, 3) px per frame, a few steps bring the
    network's middle frames closer to the true ones of that clip (a copy is tuned; the given model is unchanged)."""
    from flownet.bench import moving_video
    from flownet.synthesis_training import adapt, video_training_triplets

    clip = tmp_path / "pan.mp4"
    moving_video(clip, (64, 96), 8, step=3)

    def exact(a, b):  # the pan's flow over two frames, both ways (batch: a -> b first, then b -> a)
        flow = torch.zeros(len(a), 2, *a.shape[-2:])
        flow[: len(a) // 2] = -6.0
        flow[len(a) // 2:] = 6.0
        return flow

    triplets = video_training_triplets(clip, exact, count=4)
    assert len(triplets) >= 3
    torch.manual_seed(0)
    net = SynthesisNet(8)
    torch.nn.init.normal_(net.unet.out.weight, std=0.02)  # a net that is off
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def error(model):
        with torch.no_grad():
            return sum((model.eval()(tr.img0[None] / 255, tr.img1[None] / 255, tr.f01[None].float(),
                                     tr.f10[None].float(), tr.t) - tr.gt[None] / 255).abs().mean() for tr in triplets)

    tuned = adapt(net, triplets, steps=30, lr=1e-3)
    assert error(tuned) < 0.97 * error(net)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_interpolate_adapt_through_the_command(tmp_path):
    import subprocess
    import sys

    from flownet.bench import moving_video

    clip = tmp_path / "pan.mp4"
    moving_video(clip, (64, 96), 5)
    save_weights(SynthesisNet(8), tmp_path / "synthesis_tiny.pt")
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "interpolate", clip, "--factor", "2", "--adapt",
                        "--adapt-steps", "2", "--synthesis-checkpoint", tmp_path / "synthesis_tiny.pt", "--refine",
                        "none", "-o", tmp_path / "out.mp4"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "adapting the synthesis to" in r.stderr and "10 frames written" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "flownet.cli", "interpolate", clip, "--adapt", "--synthesis", "warp",
                          "-o", tmp_path / "x.mp4"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not (tmp_path / "x.mp4").exists()
