"""flownet bench: FLOP counting, the report's fields, precision choice, classical flow, the model's fast paths."""

import json

import pytest
import torch
from torch import nn

from flownet import bench, precision
from flownet.cli import main
from flownet.errors import FlowNetError
from flownet.models import FlowNetS


def test_flops_of_one_conv_layer_by_hand():
    conv = nn.Conv2d(6, 16, 7, stride=2, padding=3)
    assert bench.count_flops(nn.Sequential(conv), torch.rand(1, 6, 64, 96)) == 2 * 6 * 16 * 7 * 7 * 32 * 48


def test_flops_of_a_transposed_conv_by_hand():
    deconv = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)  # every input value meets 4 x 4 x 4 weights
    assert bench.count_flops(nn.Sequential(deconv), torch.rand(2, 8, 5, 6)) == 2 * 2 * 8 * 5 * 6 * 4 * 16


def test_model_flops_include_conv1_as_computed_by_hand():
    model = FlowNetS(width=0.25).eval()
    img = torch.rand(1, 3, 64, 64)
    seen = {}
    model.encoder["conv1"][0].register_forward_hook(lambda m, i, o: seen.update(flops=bench.conv_flops(m, i[0], o)))
    total = bench.count_flops(model, img, img)
    cout = model.encoder["conv1"][0].out_channels  # 16 at width 0.25
    assert seen["flops"] == 2 * 6 * cout * 7 * 7 * 32 * 32
    assert total > seen["flops"] and model.training is False


def test_precision_auto_follows_native_bf16():
    assert precision.resolve_precision("auto", "cpu", {"avx2", "avx512f", "avx512_bf16"}) == "bf16"
    assert precision.resolve_precision("auto", "cpu", {"avx2", "amx_bf16"}) == "bf16"
    assert precision.resolve_precision("auto", "cpu", {"avx2", "avx512f"}) == "fp32"
    assert precision.resolve_precision("auto", "cuda", {"avx2"}) == "bf16"
    assert precision.resolve_precision("fp32", "cpu", {"avx512_bf16"}) == "fp32"
    with pytest.raises(FlowNetError):
        precision.resolve_precision("fp16")


def test_isa_level():
    assert precision.isa_level({"avx2"}) == "AVX2 only"
    assert precision.isa_level({"avx2", "avx512f"}) == "AVX-512"
    assert precision.isa_level({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}) == "AMX"


def test_bench_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "--what", "infer", "--width", "0.25", "--size", "64x64", "--repeats", "1", "--warmup",
                 "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"command", "cpu", "isa", "threads", "torch"} <= set(result["machine"])
    infer = result["infer"]
    assert {"median", "min", "max"} <= set(infer["ms_per_pair"])
    assert infer["gflop_per_pair"] > 0 and infer["ratio"] > 0 and infer["ceiling"]["fp32"]["gflops"] > 0
    assert infer["memory"]["peak_rss_bytes"] > 0
    assert "ratio" in capsys.readouterr().out


def test_bench_train_reports_pairs_per_second():
    r = bench.bench_train(0.25, (64, 64), 2, "fp32", repeats=1, warmup=0, ceiling_gflops=100.0)
    assert r["pairs_per_s"] > 0 and r["gflop_per_step"] > 0 and r["ratio"] > 0


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


def test_channels_last_input_gives_the_same_flow():
    model = FlowNetS(width=0.25).eval()
    a, b = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        ref = model(a, b)
        cl = model(a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, cl, atol=1e-5) and cl.is_contiguous()


def test_matmul_path_of_small_layers_equals_torchs_layers(monkeypatch):
    """The unfold/fold + matmul path (few positions, large weights) computes what nn.Conv2d/ConvTranspose2d do."""
    from flownet.models import flownets

    monkeypatch.setattr(flownets, "LARGE_WEIGHT", 0)
    conv, deconv = flownets.Conv2d(8, 16, 3, 2, 1), flownets.ConvTranspose2d(8, 4, 4, 2, 1, bias=True)
    x = torch.rand(2, 8, 6, 5)
    with torch.inference_mode():
        assert torch.allclose(conv(x), nn.Conv2d.forward(conv, x), atol=1e-5)
        assert torch.allclose(deconv(x), nn.ConvTranspose2d.forward(deconv, x), atol=1e-5)


def test_bf16_inference_is_close_and_returns_fp32():
    from flownet.evaluate import model_flow_fn

    model = FlowNetS(width=0.25).eval()
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    ref, low = model_flow_fn(model, precision="fp32")(a, b), model_flow_fn(model, precision="bf16")(a, b)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
