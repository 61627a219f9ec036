"""The generator's realism options (camera motion, motion blur, compression, occlusion): off by default, the flow
still exact with them, each in the share of the scenes asked for."""

import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flownet.config import TrainConfig
from flownet.io import read_flo
from flownet.synth import REALISTIC, Scene, SynthConfig, draw_scenes, jpeg, render_frames, render_pairs

SMALL = dict(height=64, width=96)
EXACT = dict(photometric=False, noise=0.0, static_fraction=0.0)  # images that differ by the motion alone
OFF = dict(camera_fraction=0.0, motion_blur=0.0, compression=0.0, occlusion=0.0)


def render(scene: Scene, config: SynthConfig, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = scene.bg_tex.shape[0]
    (img1, img2), flow = render_frames(torch.Generator().manual_seed(seed), scene, [torch.zeros(n), torch.ones(n)],
                                       config)
    return img1, img2, flow


def warp_back(img2: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Independent backward warp: img2 sampled at p + flow(p) (pixel centres at integers)."""
    _, _, h, w = img2.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    grid = torch.stack([(xs + flow[:, 0]) / (w - 1) * 2 - 1, (ys + flow[:, 1]) / (h - 1) * 2 - 1], -1)
    return F.grid_sample(img2, grid, mode="bilinear", align_corners=True)


def pixel_centres(h: int, w: int) -> torch.Tensor:
    """2 x H x W pixel-centre coordinates (x, y), independently of the generator's own grids."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    return torch.from_numpy(np.stack([xs, ys]))


def similarity_flow(scene: Scene, i: int, p: torch.Tensor) -> torch.Tensor:
    """Closed form of the camera's flow in scene i: p -> pivot + pan + s R(a) (p - pivot), minus p."""
    a, s = float(scene.rot[i, 0]), float(scene.scale[i, 0])
    r = s * torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=torch.float64)
    q = scene.pivot[i].double().view(2, 1, 1)
    pan = scene.shift[i, 0].double().view(2, 1, 1)
    return pan + torch.einsum("ij,jhw->ihw", r - torch.eye(2, dtype=torch.float64), p - q)


def test_defaults_render_what_they_rendered_before_the_realism_options():
    """Sums of the default output recorded with the generator before these options existed: any new random draw or
    changed arithmetic on the default path moves them far beyond the tolerance."""
    s = render_pairs(torch.Generator().manual_seed(7), 4, SynthConfig(**SMALL))
    assert s["img1"].double().sum().item() == pytest.approx(38207.87700120581, rel=1e-6)
    assert s["img2"].double().sum().item() == pytest.approx(37906.31538160387, rel=1e-6)
    assert s["flow"].double().sum().item() == pytest.approx(35911.66726758331, rel=1e-6)
    assert s["flow"].double().abs().sum().item() == pytest.approx(79624.67782028764, rel=1e-6)


def test_share_zero_is_bit_for_bit_the_default_whatever_the_other_realism_settings():
    default = render_pairs(torch.Generator().manual_seed(3), 4, SynthConfig(**SMALL))
    off = render_pairs(torch.Generator().manual_seed(3), 4,
                       replace(REALISTIC, **SMALL, **OFF, camera_zoom=0.2, exposure=(0.9, 1.0), quality=(1, 5)))
    assert all(torch.equal(default[k], off[k]) for k in default)
    assert REALISTIC.height == SynthConfig().height and replace(REALISTIC, **OFF) == SynthConfig()


def test_camera_zoom_alone_gives_the_zoom_field_about_the_pivot():
    """Background only, no rotation, (almost) no pan: flow(p) = (s - 1)(p - pivot), pivot anywhere in the frame."""
    cfg = SynthConfig(**SMALL, **EXACT, min_objects=0, max_objects=0, max_rotation_deg=0.0, small_fraction=0.0,
                      background_motion=(1e-9, 1e-9), camera_fraction=1.0, camera_zoom=0.1)
    scene = draw_scenes(torch.Generator().manual_seed(1), 6, cfg)
    _, _, flow = render(scene, cfg)
    p = pixel_centres(64, 96)
    for i in range(6):
        s, q = scene.scale[i, 0].double(), scene.pivot[i].double().view(2, 1, 1)
        assert torch.allclose(flow[i].double(), (s - 1) * (p - q), atol=1e-3)
    assert (scene.scale[:, 0] - 1).abs().max() > 0.05  # zooms as large as camera_zoom asks
    assert scene.pivot[:, 0].std() > 10 and scene.pivot[:, 1].std() > 5  # about points spread over the frame


def test_objects_follow_the_camera():
    """Camera scenes with the objects' own motion removed: each object's flow is the camera's flow there."""
    cfg = SynthConfig(**SMALL, **EXACT, min_objects=3, max_objects=3, camera_fraction=1.0, camera_zoom=0.08)
    scene = draw_scenes(torch.Generator().manual_seed(2), 4, cfg)
    scene.shift[:, 1:], scene.rot[:, 1:], scene.scale[:, 1:] = 0.0, 0.0, 1.0
    n = 4
    top = torch.zeros(n, 64, 96, dtype=torch.long)
    scene.frame(torch.zeros(n), top)
    flow = scene.flow(top)
    p = pixel_centres(64, 96)
    objects = top > 0
    assert objects.float().mean() > 0.1
    for i in range(n):
        assert torch.allclose(flow[i].double(), similarity_flow(scene, i, p), atol=2e-3)
    assert flow.norm(dim=1)[objects].mean() > 1  # the camera did move them


def test_own_object_motion_comes_first_then_the_camera():
    """The objects' own motion, then the camera's: flow(p) = camera_flow(p) + C own_flow(p), C the camera's
    rotation-scale (the other order, or the own motion alone, is off by a pixel or more)."""
    cfg = SynthConfig(**SMALL, **EXACT, min_objects=3, max_objects=3, camera_fraction=1.0, camera_zoom=0.08,
                      small_fraction=0.0)
    scene = draw_scenes(torch.Generator().manual_seed(4), 4, cfg)
    top = torch.zeros(4, 64, 96, dtype=torch.long)
    scene.frame(torch.zeros(4), top)
    flow = scene.flow(top).double()
    own = replace(scene, camera=None).flow(top).double()  # the objects' own motion alone
    p = pixel_centres(64, 96)
    objects = top > 0
    assert objects.float().mean() > 0.05
    for i in range(4):
        a, s = float(scene.rot[i, 0]), float(scene.scale[i, 0])
        c = s * torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=torch.float64)
        expected = similarity_flow(scene, i, p) + torch.einsum("ij,jhw->ihw", c, own[i])
        assert (flow[i] - expected)[:, objects[i]].abs().max() < 2e-3
    assert (flow - own).norm(dim=1)[objects].mean() > 1


@pytest.mark.parametrize("camera", [0.0, 1.0])
def test_warping_the_second_frame_back_by_the_flow_gives_the_first(camera):
    """Exact flow with and without the camera: I1(p) = I2(p + F(p)) except at occlusions, so the residual is far
    below the zero-flow one on most moving pixels; and the flow of the other setting (the camera ignored, or
    wrongly applied) does much worse."""
    cfg = SynthConfig(height=96, width=128, **EXACT, camera_fraction=camera, camera_zoom=0.06)
    scene = draw_scenes(torch.Generator().manual_seed(5), 6, cfg)
    img1, img2, flow = render(scene, cfg)
    top = torch.zeros(6, 96, 128, dtype=torch.long)
    scene.frame(torch.zeros(6), top)
    other = replace(scene, camera=None if camera else torch.ones(6, dtype=torch.bool),
                    pivot=torch.rand(6, 2) * torch.tensor([128.0, 96.0])).flow(top)

    def residual(f: torch.Tensor) -> torch.Tensor:
        return (warp_back(img2, f) - img1).abs().mean(1)

    moving = flow.norm(dim=1) > 1
    assert residual(flow)[moving].median() < 0.3 * residual(0 * flow)[moving].median()
    assert residual(flow).median() < 0.05
    differs = (other - flow).norm(dim=1) > 1
    assert differs.float().mean() > 0.2
    assert residual(flow)[differs].median() < 0.3 * residual(other)[differs].median()


def test_the_frame_at_t_follows_the_camera_in_time():
    """A rigid camera zoom-out (objects without own motion): the middle frame is the first one zoomed about the
    pivot by scale ** 0.5 (log-scale linear in t); zooming by 1 + (scale - 1) / 2, or about the frame's centre, is
    worse."""
    h, w = 96, 128
    cfg = SynthConfig(height=h, width=w, **EXACT, max_rotation_deg=0.0, small_fraction=0.0,
                      background_motion=(1e-9, 1e-9), camera_fraction=1.0)
    scene = draw_scenes(torch.Generator().manual_seed(6), 4, cfg)
    scene.shift[:, 1:], scene.rot[:, 1:], scene.scale[:, 1:] = 0.0, 0.0, 1.0
    scene.scale[:, 0] = torch.tensor([0.6, 0.65, 0.7, 0.6])  # zooming out: p's place at t stays in the frame
    frame0, mid = scene.frame(torch.zeros(4)), scene.frame(torch.full((4,), 0.5))
    p = pixel_centres(h, w).float()
    s = scene.scale[:, 0].view(4, 1, 1, 1)

    def error(zoom: torch.Tensor, about: torch.Tensor) -> float:
        return (warp_back(mid, (zoom - 1) * (p - about.view(-1, 2, 1, 1))) - frame0).abs().mean().item()

    right = error(s**0.5, scene.pivot)
    assert right < 0.03
    assert right < 0.5 * error(1 + 0.5 * (s - 1), scene.pivot)
    assert right < 0.3 * error(s**0.5, torch.tensor([w / 2, h / 2]))


@pytest.mark.parametrize("option, changes", [("motion_blur", ("img1", "img2")), ("compression", ("img1", "img2")),
                                             ("occlusion", ("img2",))])
def test_image_options_change_the_images_only_in_their_share(option, changes):
    """With the photometric change and noise off (the options' random draws then change nothing else): share 0
    never changes an image, 1 always, 0.5 about half of the time; the other image and the flow stay as they were."""
    base = SynthConfig(**SMALL, photometric=False, noise=0.0, static_fraction=0.0, max_objects=2, min_objects=1)
    plain = render_pairs(torch.Generator().manual_seed(9), 16, base)
    for share, lo, hi in ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.5, 0.2, 0.8)):
        out = render_pairs(torch.Generator().manual_seed(9), 16, replace(base, **{option: share}))
        assert torch.equal(out["flow"], plain["flow"])
        for key in ("img1", "img2"):
            changed = (out[key] != plain[key]).flatten(1).any(1).float().mean().item()
            assert (lo <= changed <= hi) if key in changes else changed == 0, (share, key, changed)


def test_motion_blur_smears_along_the_motion_only():
    """A blurred second frame loses detail where it moves (the mean squared gradient along the motion drops), and
    stays as sharp as it was where nothing moves."""
    cfg = SynthConfig(height=96, width=128, **EXACT, min_objects=0, max_objects=0, max_rotation_deg=0.0,
                      max_scale_change=0.0, background_motion=(8.0, 8.0), small_fraction=0.0)
    sharp = render_pairs(torch.Generator().manual_seed(1), 4, cfg)
    blurred = render_pairs(torch.Generator().manual_seed(1), 4, replace(cfg, motion_blur=1.0, exposure=(0.5, 0.5)))
    d = sharp["flow"][:, :, 0, 0] / 8  # one translation per scene: its direction

    def along(img: torch.Tensor) -> torch.Tensor:
        gx, gy = img[..., 1:-1, 2:] - img[..., 1:-1, :-2], img[..., 2:, 1:-1] - img[..., :-2, 1:-1]
        return ((d[:, 0].view(-1, 1, 1, 1) * gx + d[:, 1].view(-1, 1, 1, 1) * gy) ** 2).mean((1, 2, 3))

    assert (along(blurred["img2"]) < 0.6 * along(sharp["img2"])).all()
    assert torch.equal(sharp["flow"], blurred["flow"])
    still = render_pairs(torch.Generator().manual_seed(1), 2, replace(cfg, static_fraction=1.0, motion_blur=1.0))
    still_sharp = render_pairs(torch.Generator().manual_seed(1), 2, replace(cfg, static_fraction=1.0))
    assert torch.allclose(still["img2"], still_sharp["img2"], atol=1e-6)


def test_jpeg_is_what_opencv_s_codec_leaves():
    img = render_pairs(torch.Generator().manual_seed(1), 3, SynthConfig(height=72, width=104, noise=0.0))["img1"]
    img = (img * 255).round() / 255
    for q in (30, 60, 90):
        ours = jpeg(img, torch.full((3,), q))
        ref = []
        for frame in img:
            bgr = (frame.permute(1, 2, 0).flip(-1).numpy() * 255).round().astype(np.uint8)
            _, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
            ref.append(torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_COLOR)).flip(-1).permute(2, 0, 1) / 255)
        ref = torch.stack(ref).float()
        loss = (ref - img).abs().mean()
        assert loss > 0.01  # OpenCV's codec loses this much, and ours ...
        assert (ours - ref).abs().mean() < 0.25 * loss  # ... loses the same


def test_occlusion_rectangles_are_of_the_mean_colour():
    cfg = SynthConfig(**SMALL, **EXACT, occlusion=1.0)
    a = render_pairs(torch.Generator().manual_seed(3), 4, replace(cfg, occlusion=0.0))
    b = render_pairs(torch.Generator().manual_seed(3), 4, cfg)
    hit = (a["img2"] != b["img2"]).any(1)
    assert 0.01 < hit.float().mean() < 0.5
    for i in range(4):
        mean = a["img2"][i].mean((1, 2))
        assert torch.allclose(b["img2"][i][:, hit[i]], mean.view(3, 1), atol=1e-6)


def test_train_config_applies_the_preset_to_the_training_stream_only():
    from flownet.datamodule import FlowDataModule

    data = FlowDataModule(TrainConfig(synth="realistic", crop=(64, 128), synthetic_length=2, val_size=1,
                                      num_workers=0))
    data.setup()
    assert data.train_set.config == replace(REALISTIC, height=64, width=128)
    default = FlowDataModule(TrainConfig(crop=(64, 128), synthetic_length=2, val_size=1, num_workers=0))
    default.setup()
    assert default.train_set.config == SynthConfig(height=64, width=128)
    assert all(torch.equal(data.val_set[0][k], default.val_set[0][k]) for k in ("img1", "img2", "flow"))


def test_cli_realistic_pairs_and_the_synth_training_option(tmp_path):
    def flownet(*args):
        return subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)

    result = flownet("data", "synth", "--realistic", "--out", tmp_path / "d", "--count", 2, "--size", "64x80",
                     "--seed", 4)
    assert result.returncode == 0, result.stderr
    ref = render_pairs(torch.Generator().manual_seed(4), 2, replace(REALISTIC, height=64, width=80))
    np.testing.assert_array_equal(read_flo(tmp_path / "d" / "00002_flow.flo"), ref["flow"][1].permute(1, 2, 0).numpy())
    assert "synth: realistic\n" in flownet("train", "--data", "synthetic", "--synth", "realistic",
                                           "--print-config").stdout
    bad = flownet("train", "--data", tmp_path / "d", "--synth", "realistic", "--out", tmp_path / "run")
    assert bad.returncode == 2 and "--synth is for --data synthetic" in bad.stderr
