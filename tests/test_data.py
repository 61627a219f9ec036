"""Flying Chairs folders, splits, augmentation that keeps flow consistent, and `data synth` output."""

import random

import pytest
import torch

from flownet import FlowNetError
from flownet.data import Augment, FlyingChairs, SyntheticChairs, flip_sample, random_crop, write_synthetic_chairs
from flownet.datasets import SPLIT_FILE, chairs_ids, chairs_split
from flownet.synth import SynthConfig, render_pairs
from test_synth import warp_back


@pytest.fixture(scope="module")
def chairs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("chairs")
    write_synthetic_chairs(root, 10, (64, 96), seed=7)
    return root


def test_synth_folder_has_chairs_layout_and_split_file(chairs_dir):
    assert chairs_ids(chairs_dir) == [f"{i:05d}" for i in range(1, 11)]
    marks = (chairs_dir / SPLIT_FILE).read_text().split()
    assert marks == ["1", "1", "1", "1", "2"] * 2


def test_synth_folder_stores_the_generated_flow_exactly(chairs_dir):
    ref = render_pairs(torch.Generator().manual_seed(7), 8, SynthConfig(height=64, width=96))
    sample = FlyingChairs(chairs_dir, "all")[0]
    assert torch.equal(sample["flow"], ref["flow"][0])  # .flo is lossless float32
    assert (sample["img1"] - ref["img1"][0]).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only


def test_official_split_file_is_used(chairs_dir):
    ids = chairs_ids(chairs_dir)
    assert chairs_split(chairs_dir, ids, "val") == ["00005", "00010"]
    assert len(chairs_split(chairs_dir, ids, "train")) == 8


def test_seeded_split_without_split_file(tmp_path):
    ids = [f"{i:05d}" for i in range(1, 101)]
    train, val = chairs_split(tmp_path, ids, "train"), chairs_split(tmp_path, ids, "val")
    assert len(train) == 80 and len(val) == 20 and not set(train) & set(val)
    order = list(ids)
    random.Random(42).shuffle(order)
    assert set(val) == set(order[80:])  # seeded with 42: the same split everywhere


def test_bad_split_file_and_missing_parts_are_clear_errors(tmp_path, chairs_dir):
    ids = chairs_ids(chairs_dir)
    (tmp_path / SPLIT_FILE).write_text("1\n2\n")
    with pytest.raises(FlowNetError, match="expected 10 lines"):
        chairs_split(tmp_path, ids, "train")
    (tmp_path / "00001_img1.ppm").write_bytes((chairs_dir / "00001_img1.ppm").read_bytes())
    with pytest.raises(FlowNetError, match="00001_img2.ppm"):
        chairs_ids(tmp_path)
    with pytest.raises(FlowNetError, match="no such folder"):
        chairs_ids(tmp_path / "nope")


@pytest.mark.parametrize("h,v", [(True, False), (False, True), (True, True)])
def test_flips_keep_the_flow_consistent_with_the_images(h, v):
    s = render_pairs(torch.Generator().manual_seed(0), 1, SynthConfig(height=96, width=128))
    sample = {k: t[0] for k, t in s.items()}
    flipped = flip_sample(sample, h, v)
    before = (warp_back(s["img2"], s["flow"]) - s["img1"]).abs().mean()
    after = (warp_back(flipped["img2"][None], flipped["flow"][None]) - flipped["img1"][None]).abs().mean()
    assert after == pytest.approx(before.item(), rel=0.05, abs=1e-3)


def test_crops_are_multiples_of_64_and_aligned():
    torch.manual_seed(0)
    img = torch.arange(100 * 150, dtype=torch.float32).view(1, 100, 150).expand(3, -1, -1)
    sample = {"img1": img, "img2": img + 1, "flow": img[:2], "valid": torch.ones(100, 150, dtype=torch.bool)}
    out = random_crop(sample, (320, 448))
    assert out["img1"].shape == (3, 64, 128) and out["valid"].shape == (64, 128)
    assert torch.equal(out["img2"] - out["img1"], torch.ones(3, 64, 128))
    assert torch.equal(out["flow"], out["img1"][:2])


def test_augment_and_stream_give_training_ready_samples(chairs_dir):
    torch.manual_seed(0)
    ds = FlyingChairs(chairs_dir, "train", Augment(crop=(64, 64)))
    s = ds[0]
    assert s["img1"].shape == (3, 64, 64) and s["flow"].shape == (2, 64, 64)
    dataset = SyntheticChairs(SynthConfig(height=64, width=64), length=5, seed=1, chunk=2)
    torch.manual_seed(0)
    stream = list(dataset)
    assert len(stream) == 5 and stream[0]["flow"].shape == (2, 64, 64)
    torch.manual_seed(0)
    again = list(dataset)
    assert all(torch.equal(a["img1"], b["img1"]) for a, b in zip(stream, again))  # reproducible for a seed
    next_epoch = list(dataset)
    assert not torch.equal(next_epoch[0]["img1"], stream[0]["img1"])  # but new scenes every epoch


def test_stream_workers_draw_different_scenes():
    loader = torch.utils.data.DataLoader(SyntheticChairs(SynthConfig(height=64, width=64), length=4, chunk=2),
                                         batch_size=None, num_workers=2)
    torch.manual_seed(0)
    samples = list(loader)
    assert len(samples) == 4
    assert not torch.equal(samples[0]["img1"], samples[1]["img1"])  # worker 0 and worker 1 alternate
