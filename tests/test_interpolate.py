"""Warping, the consistency check, Super SloMo interpolation, PSNR / SSIM, and video interpolation, against
answers known in closed form."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flownet import io
from flownet.errors import FlowNetError
from flownet.interpolate import (PairFlows, even_times, frame_at, intermediate_flows, interpolate,
                                 interpolate_sequence, interpolate_stream, learned_synthesis, pair_flows, warp_blend)
from flownet.models import SynthesisNet
from flownet.pipeline import ScaledFlow
from flownet.metrics import psnr, ssim
from flownet.warp import backward_warp, consistency_mask


def pattern(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A smooth 3-channel test image as a function of continuous coordinates (values in [0, 1])."""
    return torch.stack([0.5 + 0.4 * torch.sin(0.3 * x + 0.1 * y), 0.5 + 0.4 * torch.cos(0.2 * y - 0.05 * x),
                        0.5 + 0.3 * torch.sin(0.15 * (x + y))])[None]


def grid(h: int, w: int):
    return torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")


def constant_flow(h: int, w: int, u: float, v: float) -> torch.Tensor:
    return torch.tensor([u, v], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, h, w).clone()


# ----------------------------------------------------------------------------------------------- warping
def test_warp_by_a_translation_is_exact_inside():
    y, x = grid(40, 50)
    img = pattern(x, y)
    warped, inside = backward_warp(img, constant_flow(40, 50, 3, -2))
    expected = pattern(x + 3, y - 2)
    assert torch.allclose(warped[..., 2:, :-3], expected[..., 2:, :-3], atol=1e-9)
    assert inside[0, 0, 2:, :-3].all() and not inside[0, 0, :, -3:].any() and not inside[0, 0, :2, :].any()


def test_warp_by_a_rotation():
    h, w, angle = 64, 64, math.radians(10)
    y, x = grid(h, w)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    rx = cx + math.cos(angle) * (x - cx) - math.sin(angle) * (y - cy)
    ry = cy + math.sin(angle) * (x - cx) + math.cos(angle) * (y - cy)
    flow = torch.stack([rx - x, ry - y])[None]
    warped, inside = backward_warp(pattern(x, y), flow)
    centre = (slice(None), slice(None), slice(16, 48), slice(16, 48))
    assert inside[centre].all()
    assert (warped - pattern(rx, ry))[centre].abs().max() < 0.02  # bilinear error of a smooth image


def test_consistency_check():
    fw, bw = constant_flow(20, 30, 2, 0), constant_flow(20, 30, -2, 0)
    mask = consistency_mask(fw, bw)
    assert mask[0, 0, :, :-2].all() and not mask[0, 0, :, -2:].any()  # the last 2 columns leave the frame
    assert not consistency_mask(fw, constant_flow(20, 30, 2, 0)).any()  # going on instead of coming back


# ----------------------------------------------------------------------------------------------- interpolation
def test_super_slomo_coefficients():
    torch.manual_seed(0)
    f01, f10 = torch.randn(1, 2, 5, 6), torch.randn(1, 2, 5, 6)
    ft0, ft1 = intermediate_flows(f01, f10, 0.0)
    assert torch.equal(ft0, torch.zeros_like(f01)) and torch.equal(ft1, f01)
    ft0, ft1 = intermediate_flows(f01, f10, 1.0)
    assert torch.equal(ft0, f10) and torch.equal(ft1, torch.zeros_like(f01))
    ft0, ft1 = intermediate_flows(f01, f10, 0.5)
    assert torch.allclose(ft0, 0.25 * (f10 - f01)) and torch.allclose(ft1, 0.25 * (f01 - f10))


def exact_flows(forward: torch.Tensor, backward: torch.Tensor):
    """A flow function that knows the true flows: batch item 0 asks for frame 0 -> 1, item 1 for 1 -> 0."""
    return lambda a, b: torch.cat([forward, backward]).to(a.dtype)


def test_translation_midpoint_with_exact_flow():
    y, x = grid(48, 64)
    img0, img1 = pattern(x, y).float(), pattern(x - 4, y).float()  # everything moves 4 px right
    flow_fn = exact_flows(constant_flow(48, 64, 4, 0), constant_flow(48, 64, -4, 0))
    mid, quarter = interpolate(img0, img1, flow_fn, [0.5, 0.25])
    inner = (..., slice(4, -4), slice(8, -8))
    assert psnr(mid[inner], pattern(x - 2, y).float()[inner]) > 45
    assert psnr(quarter[inner], pattern(x - 1, y).float()[inner]) > 45
    assert psnr(mid[inner], pattern(x - 2, y).float()[inner]) > psnr((0.5 * (img0 + img1))[inner],
                                                                     pattern(x - 2, y).float()[inner]) + 10


def test_occlusion_takes_each_region_from_the_frame_that_sees_it():
    """A textured square moves 6 px right over a static background: the background it uncovers exists only in
    frame 1, the one it covers only in frame 0."""
    h, w = 40, 60
    y, x = grid(h, w)
    background = pattern(x, y).float()

    def frame(left: int) -> torch.Tensor:
        img = background.clone()
        img[..., 12:28, left:left + 16] = pattern(3 * x, 3 * y).float()[..., 12:28, 0:16]
        return img

    img0, img1, truth = frame(20), frame(26), frame(23)
    f01, f10 = torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)
    f01[:, 0, 12:28, 20:36] = 6
    f10[:, 0, 12:28, 26:42] = -6
    mid = interpolate(img0, img1, exact_flows(f01, f10), [0.5])[0]
    plain = frame_blend_without_visibility(img0, img1, f01, f10)
    # Background uncovered by t = 0.5 (only frame 1 sees it: columns 21-22) and covered after t = 0.5 (only
    # frame 0 sees it: 39-40). The visibility weights must take these from the one frame that sees them; the plain
    # blend mixes in the square. (Super SloMo's flow approximation is itself off by 1.5 px there, hence 20 dB.)
    for strip in (slice(21, 23), slice(39, 41)):
        region = (..., slice(12, 28), strip)
        assert psnr(mid[region], truth[region]) > psnr(plain[region], truth[region]) + 3
    inner = (..., slice(12, 28), slice(26, 36))  # the square's inside: flows exact, both frames see it
    assert psnr(mid[inner], truth[inner]) > 60
    outside = (..., slice(0, 10), slice(None))  # static background away from the square
    assert psnr(mid[outside], truth[outside]) > 60


def frame_blend_without_visibility(img0, img1, f01, f10):
    ft0, ft1 = intermediate_flows(f01, f10, 0.5)
    return 0.5 * (backward_warp(img0, ft0)[0] + backward_warp(img1, ft1)[0])


def test_identical_frames_and_scene_cuts():
    torch.manual_seed(1)
    a = torch.rand(1, 3, 32, 32)
    never = lambda *_: pytest.fail("identical frames need no flow")  # noqa: E731
    assert pair_flows(a, a.clone(), never).kind == "same"
    b = torch.rand(1, 3, 32, 32)  # unrelated content: no flow explains it
    zero = lambda p, q: torch.zeros(p.shape[0], 2, *p.shape[-2:])  # noqa: E731
    flows = pair_flows(a, b, zero)
    assert flows.kind == "cut"
    assert torch.equal(frame_at(a, b, flows, 0.25), a) and torch.equal(frame_at(a, b, flows, 0.75), b)


def test_warp_blend_weighs_frame0_by_1_minus_t():
    """Still frames that differ only in brightness (no motion, not a cut): the warp synthesis at t is
    (1 - t) I0 + t I1. Catches t and 1 - t swapped in ``warp_blend``'s weights (it would give t I0 + (1 - t) I1)."""
    a = torch.full((1, 3, 24, 32), 0.40)
    b = torch.full((1, 3, 24, 32), 0.48)
    zero = lambda p, q: torch.zeros(p.shape[0], 2, *p.shape[-2:])  # noqa: E731
    out = interpolate(a, b, zero, [0.25], warp_blend)[0]
    assert torch.allclose(out, torch.full_like(a, 0.42), atol=1e-6)


def test_t0_and_t1_are_the_input_frames_with_the_learned_synthesis():
    """The learned synthesis adds a residual that is not zero at t = 0 or 1: the frames there must be the inputs,
    bit for bit (a synthesis run at t = 0 was up to 57 levels off)."""
    torch.manual_seed(0)
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    net = SynthesisNet(8).eval()
    torch.nn.init.normal_(net.unet.out.weight, std=0.5)  # a residual far from zero
    ones = torch.ones(1, 1, 32, 32)
    flows = PairFlows("flow", torch.ones(1, 2, 32, 32), -torch.ones(1, 2, 32, 32), ones, ones, ones, ones)
    synthesis = learned_synthesis(net)
    assert not torch.equal(synthesis(a, b, flows, 0.0), a)  # (the mistake this test is about is possible)
    assert torch.equal(frame_at(a, b, flows, 0.0, synthesis), a)
    assert torch.equal(frame_at(a, b, flows, 1.0, synthesis), b)


def test_motion_the_flow_cannot_follow_gives_no_speckles():
    """A square moved 24 px over a textured background, and a flow that fails inside and around it (noise of +-12
    px, inconsistent both ways): the made frame stays about as smooth there as the plain blend (its high-frequency
    energy within 1.5 x the blend's), where warping along the noise breaks it into speckles (over 2 x; 3.6 x
    measured). Catches a synthesis that trusts a failed flow."""
    g = torch.Generator().manual_seed(0)
    background = F.interpolate(torch.rand(1, 3, 16, 20, generator=g), size=(96, 128), mode="bicubic",
                               align_corners=False).clamp(0, 1)
    img0, img1 = background.clone(), background.clone()
    square = F.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=(32, 32), mode="bicubic",
                           align_corners=False).clamp(0, 1)
    img0[..., 32:64, 20:52], img1[..., 32:64, 44:76] = square, square
    region = torch.zeros(1, 1, 96, 128)
    region[..., 20:76, 8:88] = 1

    def failing(a, b):
        noise = 12 * (2 * torch.rand(a.shape[0], 2, 96, 128, generator=g) - 1)
        return noise * region

    def high_frequency(img):
        lap = img[..., 1:-1, 1:-1] * 4 - img[..., :-2, 1:-1] - img[..., 2:, 1:-1] - img[..., 1:-1, :-2] - img[..., 1:-1, 2:]
        return lap[..., 25:69, 13:81].square().mean().item()  # inside the failing region, 6 px from its edges

    blend = 0.5 * (img0 + img1)
    flows = pair_flows(img0, img1, failing)
    made = frame_at(img0, img1, flows, 0.5, warp_blend)
    assert high_frequency(made) <= 1.5 * high_frequency(blend)
    assert high_frequency(warp_blend(img0, img1, flows, 0.5)) > 2 * high_frequency(blend)  # (what it prevents)


def test_flow_at_half_size_makes_the_frame_at_full_size():
    """A smooth pattern moved by (8, -4) px and a flow function that gives that motion in pixels of whatever size
    it runs at: through ``ScaledFlow(..., 0.5)`` (flows, masks and trust at half size, the frames warped at full
    size) the frame at t = 0.25 is the pattern moved by (2, -1) px, as at full size. Catches intermediate flows
    resized without scaling their vectors (a move of (1, -0.5)); test_pipeline checks the two axes' factors."""
    y, x = (c.float() for c in grid(64, 128))
    img0, img1 = pattern(x, y).float(), pattern(x - 8, y + 4).float()
    expected = pattern(x - 2, y + 1).float()

    def motion(a, b):  # f01 for the first half of the batch, f10 for the second, in px of the size called at
        h, w = a.shape[-2:]
        f01 = torch.tensor([8 * w / 128, -4 * h / 64]).view(1, 2, 1, 1).expand(1, 2, h, w)
        return torch.cat([f01, -f01])

    flows = pair_flows(img0, img1, ScaledFlow(motion, 0.5))
    assert flows.f01.shape[-2:] == (32, 64) and flows.scale == 0.5
    made = frame_at(img0, img1, flows, 0.25)
    assert (made - expected)[..., 8:-8, 12:-12].abs().max() < 0.02
    assert (frame_at(img0, img1, pair_flows(img0, img1, motion), 0.25) - made)[..., 8:-8, 12:-12].abs().max() < 0.02


def test_even_times():
    assert even_times(3) == [0.25, 0.5, 0.75]
    with pytest.raises(FlowNetError):
        interpolate(torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8), lambda a, b: a[:, :2], [1.5])


# ----------------------------------------------------------------------------------------------- PSNR and SSIM
def test_psnr_by_hand():
    a = torch.zeros(1, 1, 2, 2)
    b = a.clone()
    b[0, 0, 0, 0] = 0.1  # MSE = 0.01 / 4
    assert psnr(b, a) == pytest.approx(10 * math.log10(400))
    assert psnr(a, a) == math.inf


def test_ssim_by_hand():
    x = torch.full((1, 1, 11, 11), 0.5)
    y = torch.full((1, 1, 11, 11), 0.25)
    c1 = 0.01**2
    assert ssim(x, y) == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1))  # no variance: luminance only
    torch.manual_seed(0)
    z = torch.rand(1, 3, 20, 20)
    assert ssim(z, z) == pytest.approx(1.0)


def test_ssim_of_images_smaller_than_its_window_is_a_clear_error():
    with pytest.raises(FlowNetError, match="at least 11x11 pixels, not 40x10"):
        ssim(torch.rand(1, 3, 10, 40), torch.rand(1, 3, 10, 40))


def test_ssim_single_window_against_a_direct_sum():
    """An 11 x 11 image has one window position: SSIM is the weighted statistics of the whole image."""
    rng = np.random.default_rng(0)
    x, y = rng.random((11, 11)), rng.random((11, 11))
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
    cxy = (w * (x - mx) * (y - my)).sum()
    c1, c2 = 0.01**2, 0.03**2
    expected = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None]) == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------------------------- sequences
def moving_frames(n: int, h: int = 48, w: int = 64, step: int = 2) -> list[np.ndarray]:
    y, x = grid(h, w)
    return [(pattern(x - step * k, y)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for k in range(n)]


def timed(frames: list[np.ndarray], fps: Fraction) -> list[tuple[Fraction, Fraction, np.ndarray]]:
    return [(k / fps, 1 / fps, f) for k, f in enumerate(frames)]


def test_stream_frame_counts_keep_the_duration():
    """n frames at 10 fps last n / 10 s: x f gives n f frames (the old count, (n - 1) f + 1, ended 1/fps short);
    20 -> 30 fps gives ceil(5 / 20 x 30) = 8."""
    zero = lambda a, b: torch.zeros(a.shape[0], 2, *a.shape[-2:])  # noqa: E731
    for factor in (2, 4):
        out = list(interpolate_stream(iter(timed(moving_frames(5), Fraction(10))), zero, Fraction(10 * factor)))
        assert len(out) == 5 * factor
    frames = moving_frames(5)
    out = list(interpolate_stream(iter(timed(frames, Fraction(10))), zero, Fraction(20)))
    assert all(np.array_equal(out[2 * k], frames[k]) for k in range(5))  # input frames pass through unchanged
    assert np.array_equal(out[-1], frames[-1])  # after the last frame: the last frame
    assert len(list(interpolate_stream(iter(timed(moving_frames(5), Fraction(20))), zero, Fraction(30)))) == 8
    with pytest.raises(FlowNetError, match="fewer than two"):
        list(interpolate_stream(iter(timed(moving_frames(1), Fraction(10))), zero, Fraction(20)))


def test_stream_follows_each_frames_own_time():
    """A variable frame rate: frames at 0, 0.1 and 0.4 s; at 10 fps the output frame at 0.2 s lies a third of the way
    from the second frame to the third. Catches resampling by frame index (it would put it at 0.2 s = frame 2)."""
    times = []

    def at(img0, img1, flows, t, trusted=None):
        times.append(round(t, 6))
        return (1 - t) * img0 + t * img1

    frames = moving_frames(3)
    out = list(interpolate_stream(iter(zip([Fraction(0), Fraction(1, 10), Fraction(4, 10)], [Fraction(1, 10)] * 3,
                                           frames)),
                                  lambda a, b: torch.zeros(a.shape[0], 2, *a.shape[-2:]), Fraction(10), synthesis=at))
    assert len(out) == 5 and times == [round(1 / 3, 6), round(2 / 3, 6)]
    assert np.array_equal(out[1], frames[1]) and np.array_equal(out[4], frames[2])


def test_flows_are_computed_once_per_pair():
    """x 4: three frames between each pair share one flow call (both directions batched in it)."""
    calls = []

    def counting(a, b):
        calls.append(a.shape[0])
        return torch.zeros(a.shape[0], 2, *a.shape[-2:])

    list(interpolate_stream(iter(timed(moving_frames(4), Fraction(10))), counting, Fraction(40)))
    assert calls == [2, 2, 2]  # one call per pair, each with the pair's two directions


def test_dedup_spreads_the_motion_over_repeated_frames():
    """Frames A A B at 10 fps with --dedup: B's time stays 0.2 s and the output at 0.1 s is made halfway from A to
    B, not a copy of the repeat."""
    times = []

    def at(img0, img1, flows, t, trusted=None):
        times.append(t)
        return img0

    a, b = moving_frames(2)
    list(interpolate_stream(iter(timed([a, a.copy(), b], Fraction(10))), lambda p, q: torch.zeros(p.shape[0], 2,
                            *p.shape[-2:]), Fraction(10), synthesis=at, dedup=True))
    assert times == [0.5]


def test_video_round_trip(tmp_path):
    import imageio.v2 as iio2

    src = tmp_path / "in.mp4"
    with iio2.get_writer(src, format="FFMPEG", fps=10, codec="libx264", quality=9, macro_block_size=16) as writer:
        for frame in moving_frames(6):
            writer.append_data(frame)
    exact = lambda a, b: torch.cat([constant_flow(48, 64, 2, 0), constant_flow(48, 64, -2, 0)]).float()  # noqa: E731
    out = tmp_path / "out.mp4"
    assert interpolate_sequence(src, out, exact, factor=2, progress=False) == 12
    with iio2.get_reader(out, format="FFMPEG") as reader:
        assert reader.get_meta_data()["fps"] == pytest.approx(20)
        frames = [f for f in reader]
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_folder_of_frames(tmp_path):
    src = tmp_path / "frames"
    src.mkdir()
    for k, frame in enumerate(moving_frames(3)):
        io.write_image(src / f"f{k}.png", frame)
    zero = lambda a, b: torch.zeros(a.shape[0], 2, *a.shape[-2:])  # noqa: E731
    assert interpolate_sequence(src, tmp_path / "out", zero, factor=4, progress=False) == 12
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[-1] == "00011.png"
