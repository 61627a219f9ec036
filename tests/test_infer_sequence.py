"""`flownet infer` on a folder of frames or a video: one flow per consecutive pair."""

import subprocess
import sys

import numpy as np
import pytest

from flownet.errors import FlowNetError
from flownet.evaluate import zero_flow_fn
from flownet.infer import infer_sequence
from flownet.io import read_flo, read_image, read_kitti_flow, write_image


@pytest.fixture
def frames(tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        write_image(d / f"f{k:03d}.png", rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    (d / "notes.txt").write_text("not a frame\n")
    return d


@pytest.mark.parametrize("save_as, suffix", [("flo", ".flo"), ("color", ".png"), ("kitti", ".png")])
def test_folder(frames, tmp_path, save_as, suffix):
    written = infer_sequence(frames, tmp_path / "out", zero_flow_fn, save_as, progress=False)
    assert [p.name for p in written] == [f"f{k:03d}{suffix}" for k in range(3)]
    if save_as == "flo":
        assert read_flo(written[0]).shape == (40, 56, 2)
    elif save_as == "kitti":
        assert read_kitti_flow(written[0])[1].all()
    else:
        assert read_image(written[0]).shape == (40, 56, 3)


def test_video(tmp_path):
    import imageio.v3 as iio

    video = tmp_path / "v.mp4"
    iio.imwrite(video, np.random.default_rng(1).integers(0, 255, (3, 64, 96, 3), dtype=np.uint8), fps=10)
    written = infer_sequence(video, tmp_path / "out", zero_flow_fn, "flo", progress=False)
    assert len(written) == 2 and read_flo(written[0]).shape == (64, 96, 2)


def test_frames_of_different_sizes(frames, tmp_path):
    write_image(frames / "f009.png", np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(FlowNetError, match="f009"):
        infer_sequence(frames, tmp_path / "out", zero_flow_fn, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no output folder, no temporary one


def test_existing_output_folder_gains_the_flows(frames, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine\n")
    infer_sequence(frames, tmp_path / "out", zero_flow_fn, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f000.flo", "f001.flo", "f002.flo", "keep.txt"]


def test_cli_folder(frames, tmp_path):
    from flownet.models import FlowNetS
    from flownet.weights import save_weights

    save_weights(FlowNetS(width=0.25), tmp_path / "w.pt")
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "infer", str(frames), "-o", str(tmp_path / "o"),
                        "--checkpoint", str(tmp_path / "w.pt"), "--device", "cpu"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "o").glob("*.flo"))) == 3
