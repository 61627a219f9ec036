"""flownet viz, plot, interpolate and eval --interp end to end, through the command as a user runs it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from flownet import io, viz


def flownet(*args):
    result = subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def independent_psnr(a_path, b_path) -> float:
    a = io.read_image(a_path).astype(np.float64) / 255
    b = io.read_image(b_path).astype(np.float64) / 255
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_viz_writes_the_colour_coding(tmp_path, shared_data):
    flo = shared_data / "middlebury/RubberWhale/flow10.flo"
    flownet("viz", flo, "-o", tmp_path / "rw.png")
    assert np.array_equal(io.read_image(tmp_path / "rw.png"), viz.flow_to_color(io.read_flo(flo)))
    flownet("viz", flo, "-o", tmp_path / "arrows.png", "--arrows", shared_data / "middlebury/RubberWhale/frame10.png")
    flownet("viz", flo, "-o", tmp_path / "err.png", "--gt", flo)
    frame = io.read_image(shared_data / "middlebury/RubberWhale/frame10.png")
    for figure in ("arrows.png", "err.png"):  # figures of about the frame's size
        h, w, _ = io.read_image(tmp_path / figure).shape
        assert frame.shape[0] // 2 <= h <= 2 * frame.shape[0] and frame.shape[1] // 2 <= w <= 2 * frame.shape[1]


def test_viz_compare_and_legend(tmp_path, tiny_chairs):
    flo = sorted(tiny_chairs.glob("*_flow.flo"))[0]
    out = flownet("viz", flo, "-o", tmp_path / "f.png", "--legend", "--max-flow", 5).stdout
    picture, flow = io.read_image(tmp_path / "f.png"), io.read_flo(flo)
    h, w = flow.shape[:2]
    assert picture.shape[0] >= h and picture.shape[1] > w and "5 px" in out  # the legend beside, with its scale
    assert np.array_equal(picture[:h, :w], viz.flow_to_color(flow, 5))  # the whole picture, nothing over it
    flownet("viz", "--compare", "--data", tiny_chairs, "--count", 2, "-o", tmp_path / "cmp.png")
    assert io.read_image(tmp_path / "cmp.png").shape[0] > 100


def test_interpolate_two_images_and_n_frames(tmp_path, tiny_chairs):
    a, b = tiny_chairs / "00001_img1.ppm", tiny_chairs / "00001_img2.ppm"
    flownet("interpolate", a, b, "-o", tmp_path / "mid.png", "--t", 0.3)
    assert io.read_image(tmp_path / "mid.png").shape == io.read_image(a).shape
    flownet("interpolate", a, b, "--frames", 3, "-o", tmp_path / "frames")
    names = ["frame_t0.250.png", "frame_t0.500.png", "frame_t0.750.png"]  # t in the name
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == names
    flownet("interpolate", a, b, "-o", tmp_path / "half.png", "--t", 0.5)
    assert np.array_equal(io.read_image(tmp_path / "frames" / names[1]), io.read_image(tmp_path / "half.png"))


def make_triplets(root, n=2):
    """Triplets of a smooth pattern moving 3 px right per frame: the middle frame is known exactly."""
    y, x = np.mgrid[0:64, 0:96].astype(np.float64)
    for k in range(n):
        folder = root / f"t{k}"
        folder.mkdir(parents=True)
        for name, shift in (("frame0", 0), ("gt", 3), ("frame1", 6)):
            img = np.stack([0.5 + 0.4 * np.sin(0.2 * (x - shift) + 0.1 * y + k), 0.5 + 0.4 * np.cos(0.15 * y),
                            0.5 + 0.3 * np.sin(0.1 * (x - shift - y))], -1)
            io.write_image(folder / f"{name}.png", img)
    return root


def test_eval_interp_reports_all_methods(tmp_path):
    """One run, one row per --flow (the model, OpenCV's DIS) and --synthesis (learned, warp) beside frame repeat,
    linear blend and ffmpeg's minterpolate (its frame at t, not one of the inputs)."""
    data = make_triplets(tmp_path / "triplets")
    r = flownet("eval", "--interp", "--data", data, "--json", tmp_path / "r.json")  # the defaults
    methods = json.loads((tmp_path / "r.json").read_text())["methods"]
    ours, dis = "flownet (flownets_0.5.pt + fuse)", "dis-medium flow"
    assert set(methods) == {f"learned on {ours}", f"warp on {ours}", f"learned on {dis}", f"warp on {dis}",
                            "frame repeat", "linear blend", "ffmpeg minterpolate"}
    rows = [line for line in r.stdout.splitlines() if any(line.startswith(name) for name in methods)]
    assert len(rows) == 7 and len({len(row) for row in rows}) == 1  # one row each, columns aligned
    for name, r in methods.items():
        assert r["n"] == 2 and 0 < r["ssim"] <= 1
    # a smooth pattern moved by 3 px: warping along either flow beats blending
    for name in (f"learned on {ours}", f"warp on {ours}", f"warp on {dis}", "ffmpeg minterpolate"):
        assert methods[name]["psnr"] > methods["linear blend"]["psnr"] + 3, name  # (minterpolate's frame 0: 20 dB)
    repeat = independent_psnr(data / "t0/frame0.png", data / "t0/gt.png")
    assert methods["frame repeat"]["triplets"]["t0"]["psnr"] == pytest.approx(repeat, abs=1e-6)


def test_eval_interp_scores_each_triplet_at_its_own_time(tmp_path):
    """Generated triplets with gt at t in (0.2, 0.3) (t.txt): scored there, the warp synthesis beats the same
    folder scored as if gt were the middle frame. Catches an evaluation that always makes the frame at 0.5."""
    import shutil

    from flownet.classical import classical_flow_fn
    from flownet.data import write_synthetic_triplets
    from flownet.evaluate import evaluate_interp, interp_triplets
    from flownet.interpolate import warp_blend

    at_t, at_half = tmp_path / "at_t", tmp_path / "at_half"
    write_synthetic_triplets(at_t, 3, size=(96, 128), seed=3, t_range=(0.2, 0.3))
    shutil.copytree(at_t, at_half)
    for t_file in at_half.glob("*/t.txt"):
        t_file.write_text("0.5\n")
    rows = {"warp": (classical_flow_fn("dis-medium"), warp_blend)}
    right = evaluate_interp(interp_triplets(at_t), rows, progress=False)
    wrong = evaluate_interp(interp_triplets(at_half), rows, progress=False)
    assert right["warp"]["psnr"] > wrong["warp"]["psnr"] + 1, (right["warp"]["psnr"], wrong["warp"]["psnr"])
    assert right["linear blend"]["psnr"] != wrong["linear blend"]["psnr"]  # the baselines follow t too


def test_interpolation_beats_linear_blend_on_real_triplets(tmp_path, shared_data):
    """The must-show of the interpolation issue on UCF101 (the Middlebury half is in the README: ~30 s)."""
    data = shared_data / "interp/ucf101"
    flownet("eval", "--interp", "--data", data, "--json", tmp_path / "r.json")
    methods = json.loads((tmp_path / "r.json").read_text())["methods"]
    ours = methods["learned on flownet (flownets_0.5.pt + fuse)"]
    assert ours["psnr"] > methods["linear blend"]["psnr"] + 0.5
    assert ours["ssim"] > methods["linear blend"]["ssim"]
    # one frame written by `flownet interpolate`, its PSNR computed independently, equals the evaluation's
    triplet = data / "2"
    flownet("interpolate", triplet / "frame0.png", triplet / "frame1.png", "-o", tmp_path / "mid.png")
    assert independent_psnr(tmp_path / "mid.png", triplet / "gt.png") == pytest.approx(
        ours["triplets"]["2"]["psnr"], abs=1e-6)


def test_plot_training_curves(tmp_path):
    log = tmp_path / "run" / "logs" / "version_0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,train_epe_epoch,train_epe_step,train_loss,val_epe\n"
                                     "0,9,,3.5,9.9,\n0,19,,,,2.5\n0,19,3.2,,,\n")
    flownet("plot", tmp_path / "run", "-o", tmp_path / "curves.png")
    assert io.read_image(tmp_path / "curves.png").shape[0] > 100
