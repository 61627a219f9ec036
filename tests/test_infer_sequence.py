"""`flownet infer` on a folder of frames or a video: one flow per consecutive pair."""

import subprocess
import sys

import numpy as np
import pytest
import torch

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
    # the flows finished before the bad frame are kept, each whole; no temporary file is left
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f000.flo", "f001.flo", "f002.flo"]
    assert all(read_flo(p).shape == (40, 56, 2) for p in (tmp_path / "out").iterdir())


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


def content_flow(img1, img2):
    """A flow that depends on both images (so that outputs of different pairs differ)."""
    return torch.cat([img1[:, :1] - img2[:, :1], img1[:, 1:2] * img2[:, 2:]], 1) * 10


def generated_video(path, frames=8):
    """A small H.264 clip of ffmpeg's moving test pattern (not written by our writer)."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=64x48:rate=10:duration={frames / 10}", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_interrupted_run_keeps_finished_flows_and_resume_completes_them(tmp_path):
    """Ctrl-C after k pairs (an event: the k+1-th flow call raises it) keeps the k finished flows; --resume
    computes only the missing pairs, and the result equals an uninterrupted run byte for byte."""
    video = generated_video(tmp_path / "v.mp4")
    full = infer_sequence(video, tmp_path / "full", content_flow, progress=False)
    assert len(full) == 7
    calls = []

    def interrupted_after_3(img1, img2):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return content_flow(img1, img2)

    with pytest.raises(KeyboardInterrupt):
        infer_sequence(video, tmp_path / "out", interrupted_after_3, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in full[:3]]  # no temp file
    resumed = []

    def counted(img1, img2):
        resumed.append(1)
        return content_flow(img1, img2)

    written = infer_sequence(video, tmp_path / "out", counted, resume=True, progress=False)
    assert len(resumed) == 4
    assert [p.name for p in written] == [p.name for p in full]
    for a, b in zip(full, written):
        assert a.read_bytes() == b.read_bytes()


def test_cli_resume_skips_finished_flows(frames, tmp_path):
    from flownet.models import FlowNetS
    from flownet.weights import save_weights

    save_weights(FlowNetS(width=0.25), tmp_path / "w.pt")
    out = tmp_path / "o"
    out.mkdir()
    (out / "f000.flo").write_bytes(b"a finished flow")  # kept as it is by --resume
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "infer", str(frames), "-o", str(out), "--resume",
                        "--checkpoint", str(tmp_path / "w.pt"), "--device", "cpu"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "f000.flo").read_bytes() == b"a finished flow"
    assert read_flo(out / "f001.flo").shape == (40, 56, 2) and read_flo(out / "f002.flo").shape == (40, 56, 2)
