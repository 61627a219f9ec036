"""The README's interpolation picture: for a few real triplets, the linear blend, our middle frame and the true one.

Usage: python tools/interp_figure.py [--shared ../shared/data] [-o docs/interp_examples.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flownet import io
from flownet.evaluate import model_flow_fn
from flownet.interpolate import interpolate
from flownet.metrics import psnr
from flownet.viz import pyplot, save_figure
from flownet.weights import load_model

TRIPLETS = ("interp/middlebury/Grove2", "interp/middlebury/Urban3", "interp/ucf101/2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("-o", "--output", default="docs/interp_examples.png")
    args = parser.parse_args()
    flow_fn = model_flow_fn(load_model())
    plt = pyplot()
    fig, axes = plt.subplots(len(TRIPLETS), 3, figsize=(12, 3.2 * len(TRIPLETS)), squeeze=False)
    for row, name in zip(axes, TRIPLETS):
        folder = Path(args.shared) / name
        f0, gt, f1 = (io.image_to_tensor(io.read_image(folder / f"{n}.png")) for n in ("frame0", "gt", "frame1"))
        shown = {"linear blend": 0.5 * (f0 + f1), "flownet": interpolate(f0, f1, flow_fn, [0.5])[0], "true middle": gt}
        for ax, (label, img) in zip(row, shown.items()):
            ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
            title = label if label == "true middle" else f"{label}: {psnr(img, gt):.2f} dB"
            ax.set_title(f"{name.split('/')[-1]} — {title}", fontsize=9)
            ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, args.output, dpi=80)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
