"""Bad input through the real command: one line naming the file, exit status 2, no traceback, no partial output.

tools/bad_inputs.sh runs the full list of cases; these are a few of them.
"""

import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from flownet.io import write_flo, write_image
from flownet.models import FlowNetS
from flownet.weights import save_weights


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.replace("\r", "\n").splitlines()
             if line.strip() and not line.strip().endswith("pairs")]  # the evaluation progress counter
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("flownet: error: ")
    for w in words:
        assert w in lines[0]


def no_leftovers(folder, name):
    return not (folder / name).exists() and not any(".tmp" in p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    t = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    write_image(t / "a.png", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    write_image(t / "b.png", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    write_image(t / "c.png", rng.integers(0, 255, (48, 80, 3), dtype=np.uint8))
    (t / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    (t / "text.pt").write_text("not a checkpoint\n")
    (t / "folder.flo").mkdir()
    save_weights(FlowNetS(width=0.25), t / "w.pt")
    d = t / "chairs"
    d.mkdir()
    write_image(d / "00001_img1.ppm", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    write_image(d / "00001_img2.ppm", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    write_flo(d / "00001_flow.flo", np.zeros((64, 64, 2), np.float32))
    return t


@pytest.mark.parametrize("args, words, output", [
    (["a.png", "nope.png"], ["nope.png", "no such file"], "o1.flo"),
    (["garbage.png", "b.png"], ["garbage.png", "cannot read"], "o2.flo"),
    (["a.png", "c.png"], ["c.png", "differ in size"], "o3.flo"),
], ids=["missing", "corrupt", "sizes"])
def test_infer_bad_images(files, args, words, output):
    r = run("infer", *args, "-o", output, "--checkpoint", "w.pt", "--device", "cpu", cwd=files)
    assert_one_line_error(r, *words)
    assert no_leftovers(files, output)


def test_infer_not_a_checkpoint(files):
    r = run("infer", "a.png", "b.png", "-o", "o4.flo", "--checkpoint", "text.pt", "--device", "cpu", cwd=files)
    assert_one_line_error(r, "text.pt", "not a flownet checkpoint")
    assert no_leftovers(files, "o4.flo")


@pytest.mark.parametrize("device, words", [
    ("gpu", ["unknown device 'gpu'"]),
    pytest.param("cuda", ["--device cuda", "no CUDA GPU"],
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
])
def test_infer_device_that_is_not_there(files, device, words):
    r = run("infer", "a.png", "b.png", "-o", "o5.flo", "--checkpoint", "w.pt", "--device", device, cwd=files)
    assert_one_line_error(r, *words)
    assert no_leftovers(files, "o5.flo")


def test_infer_output_is_a_folder(files):
    r = run("infer", "a.png", "b.png", "-o", "folder.flo", "--checkpoint", "w.pt", "--device", "cpu", cwd=files)
    assert_one_line_error(r, "folder.flo")
    assert not any(".tmp" in p.name for p in files.iterdir())


@pytest.mark.parametrize("content, words", [
    (struct.pack("<fii", 1.0, 64, 64) + bytes(8 * 64 * 64), ["bad magic"]),
    (struct.pack("<fii", 202021.25, 2**30, 2**30) + bytes(64), ["impossible size"]),
    (struct.pack("<fii", 202021.25, 64, 64) + bytes(100), ["truncated"]),
], ids=["magic", "size", "short"])
def test_eval_corrupt_flo(files, tmp_path, content, words):
    d = tmp_path / "chairs"
    d.mkdir()
    for p in (files / "chairs").iterdir():
        (d / p.name).write_bytes(p.read_bytes())
    (d / "00001_flow.flo").write_bytes(content)
    r = run("eval", "--epe", "--split", "all", "--model", "none", "--baseline", "zero", "--data", d, "--json", "r.json", cwd=tmp_path)
    assert_one_line_error(r, "00001_flow.flo", *words)
    assert no_leftovers(tmp_path, "r.json")


def test_eval_non_finite_ground_truth_is_masked(files, tmp_path):
    """Decision: NaN / inf in a ground-truth .flo mark invalid pixels (as Middlebury's 1e9 'unknown' does)."""
    d = tmp_path / "chairs"
    d.mkdir()
    for p in (files / "chairs").iterdir():
        (d / p.name).write_bytes(p.read_bytes())
    flow = np.ones((64, 64, 2), np.float32)
    flow[:32] = np.nan
    flow[32:40] = np.inf
    write_flo(d / "00001_flow.flo", flow)
    r = run("eval", "--epe", "--split", "all", "--model", "none", "--baseline", "zero", "--data", d, "--json", "r.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json

    assert json.loads((tmp_path / "r.json").read_text())["epe"] == pytest.approx(np.sqrt(2), abs=1e-5)


def test_train_empty_folder_makes_no_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run("train", "--data", "empty", "--out", "run", "--width", "0.25", "--accelerator", "cpu", cwd=tmp_path)
    assert_one_line_error(r, "empty")
    assert not (tmp_path / "run").exists()


def tree(folder) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture
def work(files, tmp_path):
    """A working folder with two images, a tiny checkpoint, a folder of two frames and a flow file."""
    for name in ("a.png", "b.png", "w.pt"):
        (tmp_path / name).write_bytes((files / name).read_bytes())
    (tmp_path / "frames").mkdir()
    for k, name in enumerate(("a.png", "b.png")):
        (tmp_path / "frames" / f"{k:03d}.png").write_bytes((files / name).read_bytes())
    write_flo(tmp_path / "f.flo", np.ones((64, 64, 2), np.float32))
    (tmp_path / "chairs").mkdir()
    for p in (files / "chairs").iterdir():
        (tmp_path / "chairs" / p.name).write_bytes(p.read_bytes())
    return tmp_path


MODEL = ["--checkpoint", "w.pt", "--device", "cpu"]


@pytest.mark.parametrize("args, words", [
    (["interpolate", "frames", "-o", "out", "--t", "0.3", *MODEL], ["--t", "two images"]),
    (["interpolate", "frames", "-o", "out", "--frames", "3", *MODEL], ["--frames", "two images"]),
    (["interpolate", "a.png", "b.png", "--frames", "3", "-o", "three.png", *MODEL], ["--frames 3", "three.png",
                                                                                     "folder"]),
    (["interpolate", "a.png", "b.png", "--frames", "3", "--t", "0.2", "-o", "out", *MODEL], ["--t", "--frames"]),
    (["interpolate", "frames", "-o", "out.mp4", "--fps", "-5", *MODEL], ["argument --fps", "-5"]),
    (["interpolate", "frames", "-o", "out.mp4", "--factor", "0", *MODEL], ["argument --factor"]),
    (["interpolate", "frames", "-o", "out.mp4", "--factor", "2", "--fps", "50", *MODEL], ["--factor", "--fps"]),
    (["eval", "--interp", "--model", "none", "--baseline", "zero", "--data", "frames", *MODEL], ["--baseline", "--interp"]),
    (["eval", "--epe", "--interp", "--data", "chairs", *MODEL], ["--epe", "--interp"]),
    (["eval", "--epe", "--model", "none", "--baseline", "zero", "--data", "chairs", "--json", "nodir/x.json"], ["nodir"]),
    (["eval", "--epe", "--model", "none", "--baseline", "zero", "--data", "chairs", "--split", "middle"], ["argument --split"]),
    (["infer", "a.png", "b.png", "-o", "f.png", "--max-flow", "5", *MODEL], ["--max-flow", "--save-as color"]),
    (["infer", "a.png", "b.png", "-o", "f.flo", "--save-as", "color", *MODEL], ["f.flo", ".png"]),
    (["infer", "a.png", "b.png", "-o", "f.png", "--max-flow", "-1", "--save-as", "color", *MODEL],
     ["argument --max-flow"]),
    (["viz", "f.flo", "-o", "c.png", "--max-flow", "0"], ["argument --max-flow"]),
    (["viz", "--compare", "--data", "chairs", "-o", "c.png", "--count", "0"], ["argument --count"]),
    (["train", "--data", "synthetic", "--crop", "100x100", "--out", "run"], ["--crop 100x100", "64"]),
    (["train", "--data", "synthetic", "--epochs", "0", "--out", "run"], ["argument --epochs"]),
    (["train", "--data", "synthetic", "--scale", "0.5", "--out", "run"], ["--scale", "raft-lite-dis", "flownets"]),
    (["train", "--data", "synthetic", "--model", "raft-lite-dis", "--scale", "2", "--out", "run"], ["--scale",
                                                                                                 "at most 1"]),
    (["train", "--data", "synthetic", "--crop", "64x64", "--width", "0.25", "--precision", "foo",
      "--num-workers", "0", "--synthetic-length", "2", "--val-size", "1", "--out", "run"], ["precision", "foo"]),
    (["train", "--data", "synthetic", "--crop", "64x64", "--width", "0.25", "--num-workers", "0",
      "--synthetic-length", "2", "--val-size", "1", "--out", "a.png/run"], ["a.png/run", "a.png is a file"]),
    (["data", "synth", "--out", "d", "--count", "-1"], ["argument --count"]),
    (["bench", "--json", "nodir/b.json"], ["nodir"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0] in
    ("interpolate", "eval", "infer", "viz", "train", "data", "bench") else "")
def test_ignored_or_bad_options_are_one_line_errors_that_write_nothing(work, args, words):
    """Options that would be ignored, or are out of range, stop the command before it writes anything."""
    before = tree(work)
    r = run(*args, cwd=work)
    assert_one_line_error(r, *words)
    assert tree(work) == before
    assert r.stdout == ""  # nothing was evaluated or written before the error


@pytest.mark.parametrize("args", [
    ["infer", "a.png", "b.png", "-o", "b.png", "--save-as", "color", "--checkpoint", "w.pt"],
    ["interpolate", "a.png", "b.png", "-o", "a.png"],
    ["viz", "out_flow.flo", "-o", "out_flow.flo"],
], ids=["infer", "interpolate", "viz"])
def test_output_onto_an_input_is_refused_and_the_input_untouched(files, args):
    """-o naming an input would overwrite it: one line, exit 2, the input byte for byte as it was."""
    write_flo(files / "out_flow.flo", np.zeros((8, 8, 2), np.float32))
    target = files / args[args.index("-o") + 1]
    before = target.read_bytes()
    assert_one_line_error(run(*args, cwd=files), "names an input")
    assert target.read_bytes() == before


def test_images_too_small_for_the_default_pipeline(files):
    """8 x 8 images: one line and exit 2 (was an OpenCV traceback from inside DIS)."""
    rng = np.random.default_rng(1)
    for name in ("t1.png", "t2.png"):
        write_image(files / name, rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    r = run("infer", "t1.png", "t2.png", "-o", "tiny.flo", "--checkpoint", "w.pt", "--device", "cpu", cwd=files)
    assert_one_line_error(r, "too small", "--refine none")
    assert no_leftovers(files, "tiny.flo")


def test_viz_of_an_image_says_it_is_an_image(files):
    assert_one_line_error(run("viz", "a.png", "-o", "v.png", cwd=files), "a.png", "an image", "not a flow")
    write_flo(files / "f.flo", np.zeros((8, 8, 2), np.float32))
    (files / "adir").mkdir(exist_ok=True)
    assert_one_line_error(run("viz", "f.flo", "-o", "adir", cwd=files), "folder")


def test_version(files):
    r = run("--version", cwd=files)
    assert r.returncode == 0 and r.stdout.startswith("flownet ")
