"""The README's interpolation picture: for a few real triplets, the linear blend, warping on our flow, the learned
synthesis on it (the default) and the true middle frame, each with its PSNR over the whole frame, shown on the
160 x 160 window where warping errs most (the hard part; the rest of the frames differ less).

Usage: python tools/interp_figure.py [--shared ../shared/data] [-o docs/interp_examples.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn.functional as F

from flownet import io
from flownet.interpolate import frame_at, learned_synthesis, pair_flows, warp_blend
from flownet.metrics import psnr
from flownet.presets import default_flow_fn
from flownet.viz import pyplot, save_figure
from flownet.weights import default_checkpoint, load_model

TRIPLETS = ("interp/middlebury/Grove2", "interp/middlebury/Urban3", "interp/ucf101/2")
WINDOW = 160


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("-o", "--output", default="docs/interp_examples.png")
    args = parser.parse_args()
    flow_fn = default_flow_fn()
    learned = learned_synthesis(load_model(default_checkpoint("synthesis")))
    plt = pyplot()
    fig, axes = plt.subplots(len(TRIPLETS), 4, figsize=(12, 3.3 * len(TRIPLETS)), squeeze=False)
    for row, name in zip(axes, TRIPLETS):
        folder = Path(args.shared) / name
        f0, gt, f1 = (io.image_to_tensor(io.read_image(folder / f"{n}.png")) for n in ("frame0", "gt", "frame1"))
        flows = pair_flows(f0, f1, flow_fn)  # once, for both syntheses
        made = {"linear blend": 0.5 * (f0 + f1), "warp": frame_at(f0, f1, flows, 0.5, warp_blend),
                "learned (default)": frame_at(f0, f1, flows, 0.5, learned)}
        shown = {**{k: io.image_to_tensor(io.tensor_to_image(v)) for k, v in made.items()}, "true middle": gt}
        warped = shown["warp"]  # (8 bits, as written and as eval --interp scores)
        error = F.avg_pool2d((warped - gt).abs().mean(1, keepdim=True), WINDOW, stride=8)
        y, x = divmod(int(error.flatten().argmax()), error.shape[-1])
        y, x = y * 8, x * 8
        for ax, (label, img) in zip(row, shown.items()):
            ax.imshow(img[0, :, y:y + WINDOW, x:x + WINDOW].permute(1, 2, 0).clamp(0, 1).numpy())
            title = label if label == "true middle" else f"{label}: {psnr(img, gt):.2f} dB"
            ax.set_title(f"{name.split('/')[-1]} — {title}", fontsize=9)
            ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, args.output, dpi=80)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
