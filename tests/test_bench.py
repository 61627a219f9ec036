"""flownet bench: FLOP counting, the report's fields, precision choice, classical flow, the heap setting."""

import json
import platform
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from flownet import bench, precision
from flownet.cli import main
from flownet.errors import FlowNetError
from flownet.models import FlowNetS
from test_fused import torch_layers_only


def test_flops_of_one_conv_layer_by_hand():
    conv = nn.Conv2d(6, 16, 7, stride=2, padding=3)
    assert bench.count_flops(nn.Sequential(conv), torch.rand(1, 6, 64, 96)) == 2 * 6 * 16 * 7 * 7 * 32 * 48


def test_flops_of_a_transposed_conv_by_hand():
    deconv = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)  # every input value meets 4 x 4 x 4 weights
    assert bench.count_flops(nn.Sequential(deconv), torch.rand(2, 8, 5, 6)) == 2 * 2 * 8 * 5 * 6 * 4 * 16


def test_full_network_flops_match_the_published_figure():
    """FlowNetS at width 1.0 on a 384x512 pair: ~31.6 GFLOP (the developers' guide), 38.7M parameters; the
    fused CPU path and torch's own layers are counted alike."""
    model = FlowNetS(width=1.0).eval()
    img = torch.rand(1, 3, 384, 512)
    fused = bench.count_flops(model, img, img)
    with torch_layers_only():  # each conv's own hook fires
        plain = bench.count_flops(model, img, img)
    assert fused == plain and abs(fused / 31.6e9 - 1) < 0.005 and model.training is False
    assert fused == round(hand_gflop(1.0, 384, 512) * 1e9)
    assert abs(sum(p.numel() for p in model.parameters()) / 38.7e6 - 1) < 0.005


def hand_gflop(width: float, h: int, w: int) -> float:
    """FlowNetS's convolution GFLOP on an h x w pair (multiples of 64), from the layer table: 2 x in x out x k^2
    per output position (transposed convolutions: per input position)."""
    from flownet.models.flownets import DECODER, ENCODER

    ch = {name: max(8, round(c * width)) for name, c, _, _ in ENCODER}
    flops, in_ch, scale = 0, 6, 1
    for name, _, k, stride in ENCODER:
        scale *= stride
        flops += 2 * in_ch * ch[name] * k * k * (h // scale) * (w // scale)
        in_ch = ch[name]
    flops += 2 * in_ch * 2 * 9 * (h // 64) * (w // 64)  # predict6
    for out, skip in DECODER:  # deconv and flow up-sampling (per input position), then the predictor
        positions = (h // scale) * (w // scale)
        out = max(8, round(out * width))
        flops += 2 * in_ch * out * 16 * positions + 2 * 2 * 2 * 16 * positions
        scale //= 2
        in_ch = ch[skip] + out + 2
        flops += 2 * in_ch * 2 * 9 * (h // scale) * (w // scale)
    return flops / 1e9


def test_precision_auto_follows_native_bf16():
    assert precision.resolve_precision("auto", "cpu", {"avx2", "avx512f", "avx512_bf16"}) == "bf16"
    assert precision.resolve_precision("auto", "cpu", {"avx2", "amx_bf16"}) == "bf16"
    assert precision.resolve_precision("auto", "cpu", {"avx2", "avx512f"}) == "fp32"
    assert precision.resolve_precision("auto", "cuda", {"avx2"}) == "bf16"
    assert precision.resolve_precision("fp32", "cpu", {"avx512_bf16"}) == "fp32"
    with pytest.raises(FlowNetError):
        precision.resolve_precision("fp16")


def test_bf16_on_a_cpu_that_cannot_compute_it_is_a_one_line_error(monkeypatch, capsys):
    """An AVX2-only CPU (oneDNN refuses bf16 convolutions there): --precision bf16 is a FlowNetError naming the way
    out, auto stays fp32, fp32 is untouched; and the command says it in one line with exit 2, not a traceback
    from inside oneDNN."""
    monkeypatch.setattr(precision, "cpu_can_bf16", lambda: False)
    with pytest.raises(FlowNetError, match="cannot compute bf16.*fp32"):
        precision.resolve_precision("bf16", "cpu", {"avx2"})
    assert precision.resolve_precision("auto", "cpu", {"avx2"}) == "fp32"
    assert precision.resolve_precision("bf16", "cuda", {"avx2"}) == "bf16"
    assert main(["bench", "--what", "infer", "--width", "0.25", "--size", "64x64", "--precision", "bf16",
                 "--device", "cpu", "--repeats", "1", "--warmup", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot compute bf16" in err and "Traceback" not in err


def test_isa_level():
    assert precision.isa_level({"avx2"}) == "AVX2 only"
    assert precision.isa_level({"avx2", "avx512f"}) == "AVX-512"
    assert precision.isa_level({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}) == "AMX"


def test_timed_reports_the_median_min_and_max_of_the_timed_calls(monkeypatch):
    """A fake clock: calls that take 5 (the warm-up, not counted), 1, 2, 3 and 9 s."""
    clock, durations = [0.0], iter([5.0, 1.0, 2.0, 3.0, 9.0])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def call():
        clock[0] += next(durations)

    assert bench.timed(call, repeats=4, warmup=1) == {"median_s": 2.5, "min_s": 1.0, "max_s": 9.0}


def test_bench_cli_writes_json(tmp_path, capsys, monkeypatch):
    """Every timing made 0.5 s (median; 0.4 best): GFLOP/s and the ratio follow from FLOPs counted by hand, the
    network's and the ceiling convolution's (not from the report's own fields)."""
    monkeypatch.setattr(bench, "timed", lambda *a, **k: {"median_s": 0.5, "min_s": 0.4, "max_s": 0.6})
    out = tmp_path / "b.json"
    assert main(["bench", "--what", "infer", "--width", "0.25", "--size", "64x64", "--repeats", "1", "--warmup",
                 "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"command", "cpu", "isa", "threads", "torch"} <= set(result["machine"])
    assert result["machine"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto
    infer = result["infer"]
    assert {"median", "min", "max"} <= set(infer["ms_per_pair"])
    assert infer["gflop_per_pair"] == pytest.approx(hand_gflop(0.25, 64, 64), rel=1e-9)
    assert infer["ms_per_pair"]["median"] == pytest.approx(500)
    assert infer["gflops"] == pytest.approx(hand_gflop(0.25, 64, 64) / 0.5)
    ceiling_flops = 2 * 256 * 256 * 9 * 96 * 128 / 1e9  # bench.CEILING_SHAPE's convolution
    assert infer["ratio"] == pytest.approx(hand_gflop(0.25, 64, 64) / ceiling_flops)
    assert infer["ratio_best"] == pytest.approx(hand_gflop(0.25, 64, 64) / ceiling_flops)
    weights = sum(p.numel() * 4 for p in FlowNetS(width=0.25).parameters())
    assert infer["memory"]["peak_rss_bytes"] > weights  # the model at least, in a process of its own
    assert "ratio" in capsys.readouterr().out


def test_bench_train_reports_pairs_per_second():
    r = bench.bench_train(0.25, (64, 64), 2, "fp32", repeats=1, warmup=0, ceiling_gflops=100.0)
    assert r["pairs_per_s"] > 0 and r["gflop_per_step"] > 0 and r["ratio"] > 0


def test_bench_interp_doubles_the_frames_of_a_video():
    """4 frames of a generated video at x2: 8 written to the output video (its duration: 3 in-between frames and the
    last frame held for its time)."""
    r = bench.bench_interp((64, 96), "fp32", frames=4)
    assert r["output_frames"] == 8 and r["frames_per_s"] > 0


def test_classical_flow_recovers_a_translation():
    pytest.importorskip("cv2", reason="OpenCV is the optional 'bench' extra (pip install -e .[bench])")
    from flownet.classical import METHODS, classical_flow_fn
    from flownet.synth import textures

    tex = textures(torch.Generator().manual_seed(1), 1, 140, 140)
    img1, img2 = tex[..., 10:138, 10:138], tex[..., 7:135, 8:136]  # content moves 2 px right, 3 px down
    for name in METHODS:
        flow = classical_flow_fn(name)(img1, img2)
        assert flow.shape == (1, 2, 128, 128) and flow.dtype == torch.float32
        median = flow[..., 16:-16, 16:-16].flatten(2).median(-1).values[0]
        assert torch.allclose(median, torch.tensor([2.0, 3.0]), atol=0.5), name


def test_unknown_classical_method():
    from flownet.classical import classical_flow_fn

    with pytest.raises(FlowNetError, match="unknown classical method"):
        classical_flow_fn("lucas-kanade")


def test_bf16_inference_is_close_and_returns_fp32():
    from flownet.evaluate import model_flow_fn

    model = FlowNetS(width=0.25).eval()
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    ref, low = model_flow_fn(model, precision="fp32")(a, b), model_flow_fn(model, precision="bf16")(a, b)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not Path("/proc/self/maps").exists(),
                    reason="glibc's malloc on Linux only")
def test_large_tensors_come_from_the_heap_once_kept():
    """Without keep_large_blocks a 64 MB tensor gets a memory map of its own (faulted in anew every time); with
    it, the process heap (reused)."""
    probe = (
        "import sys, torch\n"
        "from flownet.alloc import keep_large_blocks\n"
        "if sys.argv[1] == 'keep': assert keep_large_blocks()\n"
        "block = torch.empty(2**24)\n"
        "ptr = block.data_ptr()\n"
        "for line in open('/proc/self/maps'):\n"
        "    span, *rest = line.split()\n"
        "    lo, hi = (int(v, 16) for v in span.split('-'))\n"
        "    if lo <= ptr < hi: print(rest[4] if len(rest) > 4 else 'anonymous')\n"
    )
    where = {mode: subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True)
             .stdout.strip() for mode in ("plain", "keep")}
    assert where == {"plain": "anonymous", "keep": "[heap]"}


def test_dropped_frames_psnr_compares_the_made_odd_frames_with_the_dropped_ones():
    """Made odd frames 2 levels off the dropped ones, even frames anything: PSNR = 20 log10(255 / 2), from the odd
    frames before the last kept one only. Catches comparing the wrong frames (even ones, or off by one)."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(10, 240, (8, 8, 3), dtype=np.uint8) for _ in range(7)]  # kept: 0 2 4 6; dropped: 1 3 5
    made = [np.zeros_like(f) for f in frames] + [np.zeros_like(frames[0])]
    for k in (1, 3, 5):
        made[k] = frames[k] + 2
    assert bench.dropped_frames_psnr(frames, made) == pytest.approx(20 * np.log10(255 / 2), abs=1e-9)


def test_bench_video_runs_flownet_and_minterpolate_on_the_same_clip(tmp_path):
    """A small generated clip: a row for the preset and one for ffmpeg's minterpolate, each with its time and the
    PSNR of the frames it put back (above a plain repeat's, on a smooth pan)."""
    clip = tmp_path / "pan.mp4"
    bench.moving_video(clip, (64, 96), 10, step=2, fps=Fraction(10))
    r = bench.bench_video(clip, seconds=1.0, qualities=("fast",), busy=1)
    assert set(r["rows"]) == {"flownet --quality fast", "ffmpeg minterpolate (mci)",
                              "flownet --quality fast, 1 busy beside", "ffmpeg minterpolate, 1 busy beside"}
    frames = bench.clip_frames(clip, 1.0)[0]
    repeat = bench.dropped_frames_psnr(frames, [f for f in frames[0::2] for _ in (0, 1)])
    for row in r["rows"].values():
        assert row["seconds"] > 0 and row["psnr_dropped"] > repeat


def test_busy_processes_are_killed_even_when_the_bench_fails():
    with pytest.raises(RuntimeError):
        with bench.busy_processes(2) as procs:
            assert all(p.poll() is None for p in procs)  # running
            raise RuntimeError("the bench failed")
    assert all(p.poll() is not None for p in procs)  # none left behind


def test_bench_video_leaves_the_process_threads_as_they_were(tmp_path):
    """Its runs set torch's threads (as flownet interpolate does, from the machine's load): afterwards the process
    has its own count back (a leaked count of 1 made later tests run single-threaded)."""
    clip = tmp_path / "pan.mp4"
    bench.moving_video(clip, (48, 64), 6, step=2, fps=Fraction(10))
    before = torch.get_num_threads()
    bench.bench_video(clip, seconds=0.6, qualities=("fast",), threads=1 if before > 1 else 2)
    assert torch.get_num_threads() == before
