"""An independent check of `flownet bench --what infer`: times `FlowNetS(width=1.0).eval()` on ordinary NCHW fp32
tensors (and under bf16 autocast) with nothing from flownet.bench, against a plain 3x3 convolution timed in the
same way, and prints the ratio. Usage: python tools/check_ratio.py [--size 384x512] [--repeats 20]"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from flownet.models import FlowNetS


def median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="384x512")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    h, w = map(int, args.size.split("x"))
    torch.manual_seed(0)
    model = FlowNetS(width=1.0).eval()
    img1, img2 = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
    # FLOPs by hand: 2 x weights per output position (a transposed conv: per input position, weight[0] = out x k x k)
    gflop = 2 * sum((o.numel() if isinstance(m, torch.nn.Conv2d) else i[0].numel()) * m.weight[0].numel()
                    for m, i, o in trace(model, img1, img2)) / 1e9
    x, weight = torch.randn(1, 256, 96, 128), torch.randn(256, 256, 3, 3)
    ceiling_flop = 2 * 256 * 256 * 9 * 96 * 128
    with torch.no_grad():
        ceilings = {}
        for fmt in (torch.contiguous_format, torch.channels_last):
            xf = x.contiguous(memory_format=fmt)
            ceilings[fmt] = ceiling_flop / median_ms(lambda: F.conv2d(xf, weight, padding=1), args.repeats) / 1e6
        ceiling = max(ceilings.values())
        fp32 = median_ms(lambda: model(img1, img2), args.repeats)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = median_ms(lambda: model(img1, img2), args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {h}x{w}, {gflop:.2f} GFLOP per pair")
    print(f"ceiling: plain 3x3 conv 1x256x96x128 -> 256: {ceiling:.0f} GFLOP/s "
          f"(NCHW {ceilings[torch.contiguous_format]:.0f}, channels_last {ceilings[torch.channels_last]:.0f})")
    print(f"fp32: {fp32:.1f} ms/pair = {gflop / fp32 * 1e3:.0f} GFLOP/s = {gflop / fp32 * 1e3 / ceiling:.2f} of the ceiling")
    print(f"bf16 autocast: {bf16:.1f} ms/pair = {bf16 / fp32:.2f} x fp32")


def trace(model, *inputs):
    """(module, inputs, output) of every convolution in one call, recorded with torch's own layers."""
    calls = []
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    handles = [m.register_forward_hook(lambda m, i, o: calls.append((m, i, o))) for m in convs]
    with torch.enable_grad():  # autograd on: the model runs torch's own layers, so every hook fires
        model(*inputs)
    for handle in handles:
        handle.remove()
    return calls


if __name__ == "__main__":
    main()
