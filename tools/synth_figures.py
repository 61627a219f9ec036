"""Figures of the generated training data: a grid of samples with their flow colours, and the flow-magnitude
histogram of generated pairs beside that of the real pairs in ../shared/data.

Usage: python tools/synth_figures.py [--shared ../shared/data] [--out docs]
Writes docs/synth_samples.png and docs/flow_histogram.png, and prints the generator's speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from flownet.datasets import dataset_pairs  # noqa: E402
from flownet.fileutil import atomic_path  # noqa: E402
from flownet.io import read_flow  # noqa: E402
from flownet.synth import SynthConfig, TexturePools, render_pairs  # noqa: E402
from flownet.viz import flow_to_color  # noqa: E402


def sample_grid(batch: dict, rows: int, out: Path) -> None:
    """Rows of (first image, second image, flow colour) under column titles; all flows on one colour scale,
    whose speed of full saturation the flow column's title gives."""
    scale = float(batch["flow"][:rows].norm(dim=1).max())
    h, w = batch["img1"].shape[-2:]
    fig, axes = plt.subplots(rows, 3, figsize=(3 * 4, rows * 4 * h / w + 0.5), squeeze=False)
    titles = ("first image (img1)", "second image (img2)", f"true flow img1 -> img2 (colour edge {scale:.3g} px)")
    for i, ax_row in enumerate(axes):
        ax_row[0].imshow(batch["img1"][i].permute(1, 2, 0).numpy())
        ax_row[1].imshow(batch["img2"][i].permute(1, 2, 0).numpy())
        ax_row[2].imshow(flow_to_color(batch["flow"][i].permute(1, 2, 0).numpy(), max_flow=scale))
        for ax, title in zip(ax_row, titles):
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=11)
    fig.tight_layout(h_pad=0.4, w_pad=0.4)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def magnitudes(pairs) -> np.ndarray:
    return np.concatenate([np.linalg.norm(f[v], axis=-1) for f, v in (read_flow(p.flow) for p in pairs)])


def histogram(generated: np.ndarray, real: dict[str, np.ndarray], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-2, np.log10(80), 60)
    ax.hist(np.clip(generated, 0.01, None), bins=bins, density=True, histtype="stepfilled", alpha=0.35,
            label=f"generated ({len(generated) / 1e6:.1f}M px, mean {generated.mean():.2f})")
    for name, mags in real.items():
        ax.hist(np.clip(mags, 0.01, None), bins=bins, density=True, histtype="step", linewidth=2,
                label=f"{name} ({len(mags) / 1e6:.1f}M px, mean {mags.mean():.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("flow magnitude (px, log scale; zero flow counted at 0.01)")
    ax.set_ylabel("density")
    ax.set_title("Flow magnitudes: generated training data vs real pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--out", default="docs")
    parser.add_argument("--count", type=int, default=64, help="generated pairs for the histogram")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)

    config = SynthConfig()  # 384 x 512, as Flying Chairs
    gen = torch.Generator().manual_seed(0)
    batch = render_pairs(gen, args.count, config)
    sample_grid(batch, 6, out / "synth_samples.png")

    real = {}
    for name, folder in (("real Flying Chairs", "flyingchairs"), ("Middlebury", "middlebury")):
        root = Path(args.shared) / folder
        if root.is_dir():
            real[name] = magnitudes(dataset_pairs(root, "all"))
    histogram(batch["flow"].norm(dim=1).flatten().numpy(), real, out / "flow_histogram.png")

    stream = SynthConfig(height=256, width=320)  # the training crops of the shipped recipe
    pools = TexturePools(gen, stream)
    render_pairs(gen, 8, stream, pools=pools)  # warm-up
    start = time.perf_counter()
    for _ in range(5):
        render_pairs(gen, 8, stream, pools=pools)
    per_pair = (time.perf_counter() - start) / 40
    print(f"generator: {1 / per_pair:.1f} scenes/s at 256x320 with texture pools, {torch.get_num_threads()} threads "
          f"({2 / per_pair:.1f} training samples/s with each scene used twice)")
    print(f"wrote {out / 'synth_samples.png'} and {out / 'flow_histogram.png'}")


if __name__ == "__main__":
    main()
