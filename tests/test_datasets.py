"""MPI-Sintel, KITTI 2015 and pair-list layouts: discovery, evaluation, training data (tiny fake datasets)."""

import numpy as np
import pytest
import torch

from flownet.data import PairDataset
from flownet.config import TrainConfig
from flownet.datamodule import FlowDataModule
from flownet.errors import FlowNetError
from flownet.datasets import dataset_pairs, detect_format, seeded_split
from flownet.evaluate import evaluate_epe, zero_flow_fn
from flownet.io import write_flo, write_image
from test_formats import png16_bytes

H, W = 64, 80
rng = np.random.default_rng(0)


def image():
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def flow(value=1.0):
    return np.full((H, W, 2), value, np.float32)


@pytest.fixture(scope="module")
def sintel(tmp_path_factory):
    root = tmp_path_factory.mktemp("sintel")
    for scene, frames in (("alley_1", 4), ("cave_2", 3), ("market_2", 2)):
        for k in range(1, frames + 1):
            for dstype in ("clean", "final"):
                (root / "training" / dstype / scene).mkdir(parents=True, exist_ok=True)
                write_image(root / "training" / dstype / scene / f"frame_{k:04d}.png", image())
            if k < frames:
                (root / "training" / "flow" / scene).mkdir(parents=True, exist_ok=True)
                write_flo(root / "training" / "flow" / scene / f"frame_{k:04d}.flo", flow(k))
    return root


KITTI_FLOW = [(i + 1.0, -(i + 2.5)) for i in range(5)]  # (u, v) of pair i where valid
KITTI_VALID_ROWS = [8, 16, 24, 40, 64]  # the first rows of pair i are valid, the others hold 100 px


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    """KITTI 2015 layout; the flow PNGs made by an encoder of the tests' own (test_formats.png16_bytes)."""
    root = tmp_path_factory.mktemp("kitti")
    for d in ("image_2", "flow_occ"):
        (root / "training" / d).mkdir(parents=True)
    for i, ((u, v), rows) in enumerate(zip(KITTI_FLOW, KITTI_VALID_ROWS)):
        write_image(root / "training" / "image_2" / f"{i:06d}_10.png", image())
        write_image(root / "training" / "image_2" / f"{i:06d}_11.png", image())
        valid = np.arange(H)[:, None].repeat(W, 1) < rows
        codes = np.dstack([np.where(valid, u, 100.0) * 64 + 2**15, np.where(valid, v, 100.0) * 64 + 2**15, valid])
        (root / "training" / "flow_occ" / f"{i:06d}_10.png").write_bytes(png16_bytes(codes.astype(np.uint16)))
    return root


@pytest.fixture(scope="module")
def pair_list(tmp_path_factory):
    root = tmp_path_factory.mktemp("list")
    (root / "imgs").mkdir()
    lines = ["# img1 img2 flow", ""]
    for i in range(5):
        write_image(root / "imgs" / f"{i}a.png", image())
        write_image(root / "imgs" / f"{i}b.png", image())
        write_flo(root / "imgs" / f"{i}.flo", flow(2.0))
        lines.append(f"imgs/{i}a.png imgs/{i}b.png imgs/{i}.flo")
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root / "pairs.txt"


def test_sintel_pairs(sintel):
    for root in (sintel, sintel / "training"):
        assert detect_format(root) == "sintel"
        pairs = dataset_pairs(root)
        assert len(pairs) == 3 + 2 + 1
        first = pairs[0]
        assert first.name == "alley_1/frame_0001"
        assert first.img1.name == "frame_0001.png" and first.img2.name == "frame_0002.png"
        assert first.img1.parent.parent.name == "clean"
    final = dataset_pairs(sintel, fmt="sintel-final")
    assert all(p.img1.parent.parent.name == "final" for p in final)
    # zero flow: EPE = |(k, k)| averaged over pairs
    result = evaluate_epe(dataset_pairs(sintel), zero_flow_fn, progress=False)
    assert result["epe"] == pytest.approx(np.mean([k * np.sqrt(2) for k in (1, 2, 3, 1, 2, 1)]), rel=1e-5)


def test_kitti_pairs_mask_invalid_pixels_and_weigh_every_pixel_alike(kitti):
    for root in (kitti, kitti / "training"):
        assert detect_format(root) == "kitti"
        assert len(dataset_pairs(root)) == 5
    result = evaluate_epe(dataset_pairs(kitti), zero_flow_fn, progress=False)
    errors = [np.hypot(u, v) for u, v in KITTI_FLOW]  # zero flow: |gt|; the 100 px invalid pixels do not count
    pixels = [rows * W for rows in KITTI_VALID_ROWS]
    assert result["pixels"] == sum(pixels)
    assert result["epe"] == pytest.approx(np.dot(errors, pixels) / sum(pixels), rel=1e-6)  # as KITTI's devkit
    assert result["pair_mean"]["epe"] == pytest.approx(np.mean(errors), rel=1e-6)
    assert [p["pixels"] for p in result["pairs"].values()] == pixels


def test_pair_list(pair_list):
    assert detect_format(pair_list) == "list"
    pairs = dataset_pairs(pair_list)
    assert len(pairs) == 5 and pairs[0].img1 == pair_list.parent / "imgs" / "0a.png"
    result = evaluate_epe(pairs, zero_flow_fn, progress=False)
    assert result["epe"] == pytest.approx(2 * np.sqrt(2), rel=1e-5)


def test_seconds_per_pair_leave_out_the_warm_up_call(pair_list, monkeypatch):
    """The first call of a flow function pays one-time set-up (thread pools, oneDNN's kernels): evaluate_epe makes
    it untimed, then times each pair. A clock that advances 100 s in the first call and 1 s in every later one must
    give 1 s/pair over the 5 pairs (timing the warm-up would give 21, skipping the first pair's timing 0.8)."""
    from types import SimpleNamespace

    from flownet import evaluate

    clock, calls = [0.0], []

    def flow_fn(img1, img2):
        calls.append(1)
        clock[0] += 100.0 if len(calls) == 1 else 1.0
        return zero_flow_fn(img1, img2)

    monkeypatch.setattr(evaluate, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    result = evaluate_epe(dataset_pairs(pair_list), flow_fn, progress=False)
    assert len(calls) == 6 and result["seconds_per_pair"] == pytest.approx(1.0)


def test_pair_list_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("only_one_field.png\n")
    with pytest.raises(FlowNetError, match="line 1"):
        dataset_pairs(bad)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(FlowNetError, match="empty"):
        dataset_pairs(tmp_path / "empty.txt")
    write_image(tmp_path / "a.png", image())
    write_image(tmp_path / "b.png", image())
    (tmp_path / "noflow.txt").write_text("a.png b.png\n")
    with pytest.raises(FlowNetError, match="no ground-truth"):
        evaluate_epe(dataset_pairs(tmp_path / "noflow.txt"), zero_flow_fn, progress=False)


def test_ambiguous_and_unknown_layouts(tmp_path, sintel):
    (tmp_path / "training" / "clean").mkdir(parents=True)
    (tmp_path / "training" / "flow").mkdir()
    (tmp_path / "training" / "image_2").mkdir()
    (tmp_path / "training" / "flow_occ").mkdir()
    with pytest.raises(FlowNetError, match="more than one"):
        detect_format(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FlowNetError, match="no known dataset layout"):
        detect_format(tmp_path / "empty")


def test_split_is_seeded_and_disjoint(sintel):
    pairs = dataset_pairs(sintel)
    train, val = seeded_split(pairs, "train"), seeded_split(pairs, "val")
    assert train == seeded_split(pairs, "train")
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(pairs)


def test_training_split_holds_out_whole_scenes(tmp_path):
    """Neighbouring frames of a sequence (a chain of consecutive pairs in a list, as a Sintel scene) never land on
    both sides of flownet train's split: a per-pair split put them on both and made val_epe optimistic."""
    lines = []
    for k in range(12):  # frames 0 ... 11 of one sequence: 11 chained pairs
        write_image(tmp_path / f"seq_{k:02d}.png", image())
    for k in range(11):
        write_flo(tmp_path / f"seq_{k:02d}.flo", flow(1.0))
        lines.append(f"seq_{k:02d}.png seq_{k + 1:02d}.png seq_{k:02d}.flo")
    for k in range(4):  # four unrelated pairs
        write_image(tmp_path / f"single_{k}a.png", image())
        write_image(tmp_path / f"single_{k}b.png", image())
        write_flo(tmp_path / f"single_{k}.flo", flow(1.0))
        lines.append(f"single_{k}a.png single_{k}b.png single_{k}.flo")
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    listed = dataset_pairs(tmp_path / "pairs.txt")
    assert len({p.scene for p in listed[:11]}) == 1 and len({p.scene for p in listed}) == 5
    dm = FlowDataModule(TrainConfig(data=str(tmp_path / "pairs.txt"), batch_size=1, num_workers=0, crop=(64, 64)))
    dm.setup("fit")
    train, val = dm.train_set.pairs, dm.val_set.pairs
    assert train and val and len(train) + len(val) == len(listed)
    assert {p.scene for p in train}.isdisjoint({p.scene for p in val})


@pytest.mark.parametrize("name", ["sintel", "kitti", "pair_list"])
def test_training_data_module(name, request):
    root = request.getfixturevalue(name)
    dm = FlowDataModule(TrainConfig(data=str(root), batch_size=2, num_workers=0, crop=(64, 64)))
    dm.setup("fit")
    assert isinstance(dm.train_set, PairDataset)
    assert len(dm.train_set) + len(dm.val_set) == len(dataset_pairs(root))
    batch = next(iter(dm.train_dataloader()))
    assert batch["img1"].shape == (2, 3, 64, 64) and batch["flow"].shape == (2, 2, 64, 64)
    assert batch["valid"].dtype == torch.bool


def test_eval_cli_on_a_list(pair_list, tmp_path):
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "flownet.cli", "eval", "--epe", "--model", "none", "--baseline", "zero", "--data",
                        str(pair_list), "--json", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["n"] == 5


def test_data_and_evaluate_do_not_import_each_other():
    """Training data and evaluation share flownet.datasets; neither module loads the other."""
    import subprocess
    import sys

    probe = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
             "print(sorted(m for m in ('flownet.data', 'flownet.evaluate') if m in sys.modules))")
    for module, other in (("flownet.data", "flownet.evaluate"), ("flownet.evaluate", "flownet.data")):
        out = subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True, check=True).stdout
        assert eval(out) == [module], f"{module} loads {other}"
