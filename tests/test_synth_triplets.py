"""Triplets: the generator renders the exact frame at time t between its two frames."""

import subprocess
import sys

import pytest
import torch

from flownet.data import T_FILE, SyntheticTriplets, collate
from flownet.evaluate import interp_triplets
from flownet.io import image_to_tensor, read_image
from flownet.synth import OBJECT_TEXTURE, Scene, SynthConfig, fractal_noise, render_frames, render_pairs, render_triplets
from flownet.warp import backward_warp

SMALL = dict(height=64, width=96)


def flownet(*args):
    return subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)


def square_scene(shift: tuple[float, float]) -> Scene:
    """A static noise background and one 32 x 32 noise-textured opaque square at pixels x 24..55, y 14..45 (edges
    on pixel boundaries), moving by ``shift`` (x, y) pixels from frame 0 to frame 1."""
    gen = torch.Generator().manual_seed(0)
    h, w = 64, 96
    canvas = torch.cat([fractal_noise(gen, 1, 3, OBJECT_TEXTURE, OBJECT_TEXTURE),
                        torch.ones(1, 1, OBJECT_TEXTURE, OBJECT_TEXTURE)], 1)
    return Scene(
        bg_tex=fractal_noise(gen, 1, 3, h, w),
        obj_tex=canvas.view(1, 1, 4, OBJECT_TEXTURE, OBJECT_TEXTURE),
        active=torch.ones(1, 1, dtype=torch.bool),
        lin=torch.stack([torch.diag(torch.tensor([w / 2, h / 2])), torch.diag(torch.tensor([16.0, 16.0]))])[None],
        centre=torch.tensor([[[w / 2, h / 2], [40.0, 30.0]]]),
        shift=torch.tensor([[[0.0, 0.0], list(shift)]]),
        rot=torch.zeros(1, 2),
        scale=torch.ones(1, 2),
        size=(h, w),
    )


def test_middle_frame_of_a_moving_square_is_the_square_shifted_by_t_d():
    exact = SynthConfig(**SMALL, photometric=False, noise=0.0)
    scene = square_scene((8.0, -4.0))
    times = [torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([0.25])]
    (f0, f1, mid, quarter), flow = render_frames(torch.Generator(), scene, times, exact)
    scene.active[:] = False
    background = scene.frame(torch.tensor([0.0])).clamp(1e-4, 1)  # the static background alone
    for frame, (dx, dy) in ((mid, (4, -2)), (quarter, (2, -1))):
        # independent: the square's pixels of frame 0, moved by t * d with plain indexing, over the background
        expected = background.clone()
        expected[..., 14 + dy : 46 + dy, 24 + dx : 56 + dx] = f0[..., 14:46, 24:56]
        assert (frame - expected).abs().max() < 1e-5
    # the flow is the known motion: the square's pixels move by d, the background stays
    assert torch.allclose(flow[0, :, 14:46, 24:56], torch.tensor([8.0, -4.0]).view(2, 1, 1), atol=1e-4)
    assert flow[0, :, :10].abs().max() < 1e-4
    # ... and the middle frame sampled at p + t F(p) (warped back by the flow at t) gives frame 0's square
    warped, _ = backward_warp(mid, 0.5 * flow)
    assert (warped[..., 14:46, 24:56] - f0[..., 14:46, 24:56]).abs().max() < 1e-5


def test_t0_and_t1_reproduce_the_end_frames_photometric_change_included():
    cfg = SynthConfig(**SMALL, noise=0.0)  # the brightness / gamma change and blur of the second frame stay on
    for t, key in ((0.0, "img0"), (1.0, "img1")):
        s = render_triplets(torch.Generator().manual_seed(2), 4, cfg, t)
        assert torch.equal(s["gt"], s[key])


def test_triplet_end_frames_are_the_pairs_frames():
    pairs = render_pairs(torch.Generator().manual_seed(6), 3, SynthConfig(**SMALL))
    trip = render_triplets(torch.Generator().manual_seed(6), 3, SynthConfig(**SMALL), torch.tensor([0.2, 0.5, 0.7]))
    assert torch.equal(trip["img0"], pairs["img1"]) and torch.equal(trip["img1"], pairs["img2"])
    assert torch.equal(trip["flow"], pairs["flow"]) and trip["t"].tolist() == pytest.approx([0.2, 0.5, 0.7])


def test_the_middle_frame_gets_the_middle_of_the_brightness_change():
    cfg = SynthConfig(**SMALL, noise=0.0, static_fraction=1.0)  # no motion: only the photometric change
    s = render_triplets(torch.Generator().manual_seed(3), 8, cfg, 0.5)
    m0, mt, m1 = (s[k].mean((1, 2, 3)) for k in ("img0", "gt", "img1"))
    change = (m1 - m0).abs() > 0.01
    assert change.sum() >= 3
    assert ((mt - (m0 + m1) / 2).abs()[change] < 0.25 * (m1 - m0).abs()[change]).all()


def test_data_synth_triplets_writes_the_eval_interp_layout(tmp_path):
    out = tmp_path / "triplets"
    result = flownet("data", "synth", "--triplets", "--out", out, "--count", 3, "--size", "64x96", "--seed", 5)
    assert result.returncode == 0, result.stderr
    folders = interp_triplets(out)
    assert [f.name for f in folders] == ["00001", "00002", "00003"]
    assert all(float((f / T_FILE).read_text()) == 0.5 for f in folders)
    frames = [image_to_tensor(read_image(folders[0] / f"{n}.png")) for n in ("frame0", "gt", "frame1")]
    assert all(f.shape == (1, 3, 64, 96) for f in frames)
    assert not torch.equal(frames[0], frames[1]) and not torch.equal(frames[1], frames[2])


def test_data_synth_triplets_t_range(tmp_path):
    out = tmp_path / "t"
    result = flownet("data", "synth", "--triplets", "--out", out, "--count", 4, "--size", "64x64", "--t-range", 0.2, 0.4)
    assert result.returncode == 0, result.stderr
    times = [float((f / T_FILE).read_text()) for f in interp_triplets(out)]
    assert all(0.2 <= t <= 0.4 for t in times) and len(set(times)) == 4
    bad = flownet("data", "synth", "--triplets", "--out", out, "--t-range", 0.6, 0.4)
    assert bad.returncode == 2 and "--t-range" in bad.stderr and "Traceback" not in bad.stderr


def test_triplet_stream_middle_frames_follow_the_flow_at_their_own_t():
    """Through the stream (flips, t per sample): the middle frame warped back by t F matches frame 0 much better
    than warped by (1 - t) F, 0.5 F or not at all (a gt left unflipped, a t not the one rendered, t = 0.5 for all).
    Occlusions keep the residual at the true t above zero, so it is compared with the wrong times', not with 0."""
    torch.manual_seed(0)  # the stream draws its scenes from the global generator (as a DataLoader seeds it)
    stream = SyntheticTriplets(SynthConfig(height=96, width=128, photometric=False, max_rotation_deg=0.0,
                                           max_scale_change=0.0, noise=0.0), length=8, seed=3, chunk=4,
                               jitter=0.0, t_range=(0.2, 0.35))
    batch = collate(list(stream))
    assert set(batch) == {"img0", "gt", "img1", "t", "flow", "valid"}
    assert batch["gt"].shape == (8, 3, 96, 128) and batch["t"].shape == (8,)
    t = batch["t"].view(-1, 1, 1, 1)
    assert ((0.2 <= t) & (t <= 0.35)).all()
    moving = batch["flow"].norm(dim=1) > 2

    def residual(times: torch.Tensor) -> float:
        warped, inside = backward_warp(batch["gt"], times * batch["flow"])
        return (warped - batch["img0"]).abs().mean(1)[moving & (inside[:, 0] > 0)].mean().item()

    assert residual(t) < 0.7 * min(residual(1 - t), residual(torch.full_like(t, 0.5)), residual(0 * t))
