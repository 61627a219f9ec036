"""Flow pictures: the Middlebury colour coding, its colour-wheel legend, arrows, error maps and figures.

Colour coding as in Baker et al., "A Database and Evaluation Methodology for Optical Flow" (IJCV 2011): a wheel of
55 colours (red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11, blue-magenta 13, magenta-red 6); the hue
gives the direction, the saturation the speed relative to a maximum (white = no motion). Right is red, down
yellow-green, left cyan, up blue-violet. Speeds beyond the maximum keep full saturation and are darkened; pixels
of unknown flow are black. Arrays are H x W x 2 flows in pixels and H x W x 3 uint8 pictures.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .errors import FlowNetError
from .fileutil import atomic_path
from .io import flow_valid_mask, zero_invalid

WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)  # RY, YG, GC, CB, BM, MR


def color_wheel() -> np.ndarray:
    """The 55 x 3 Middlebury colour wheel (uint8 values), starting at red and turning through yellow."""
    # Each segment ramps one channel up or down while the others stay: (channel, rising) per segment.
    ramps = ((1, True), (0, False), (2, True), (1, False), (0, True), (2, False))
    start = np.array([255, 0, 0])
    rows = []
    for n, (channel, rising) in zip(WHEEL_SEGMENTS, ramps):
        ramp = np.floor(255 * np.arange(n) / n)
        seg = np.repeat(start[None], n, axis=0).astype(float)
        seg[:, channel] = ramp if rising else 255 - ramp
        rows.append(seg)
        start = seg[-1].copy()
        start[channel] = 255 if rising else 0
    return np.concatenate(rows).astype(np.uint8)


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code an H x W x 2 flow; ``max_flow`` fixes the speed of full saturation (default: the largest
    valid speed), so that several pictures can share one scale."""
    flow = np.asarray(flow, dtype=np.float64)
    valid = flow_valid_mask(flow)
    u, v = zero_invalid(flow, valid).transpose(2, 0, 1)
    speed = np.hypot(u, v)
    if max_flow is None:
        max_flow = float(speed.max()) if valid.any() else 0.0
    if max_flow <= 0:
        max_flow = 1.0
    wheel = color_wheel().astype(np.float64) / 255
    n = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi  # -1 .. 1
    fk = (angle + 1) / 2 * (n - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % n
    f = (fk - k0)[..., None]
    col = (1 - f) * wheel[k0] + f * wheel[k1]
    rad = (speed / max_flow)[..., None]
    inside = rad <= 1
    col = np.where(inside, 1 - rad * (1 - col), col * 0.75)
    col[~valid] = 0
    return np.round(col * 255).astype(np.uint8)


def wheel_legend(size: int = 151) -> np.ndarray:
    """A size x size picture of the colour wheel: each point coloured as the flow from the centre to it, the
    disc's edge at full saturation; white outside the disc."""
    r = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size] - r
    flow = np.stack([x, y], axis=-1)
    img = flow_to_color(flow, max_flow=r)
    img[np.hypot(x, y) > r] = 255
    return img


def add_legend(img: np.ndarray, fraction: float = 0.22) -> np.ndarray:
    """``img`` with the colour-wheel legend in its bottom-right corner, on a thin white margin."""
    h, w = img.shape[:2]
    size = max(15, int(min(h, w) * fraction)) | 1
    pad = max(2, size // 20)
    out = img.copy()
    if size + 2 * pad > min(h, w):
        return out
    out[h - size - 2 * pad:, w - size - 2 * pad:] = 255
    out[h - size - pad:h - pad, w - size - pad:w - pad] = wheel_legend(size)
    return out


# ----------------------------------------------------------------------------------------------- figures
def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG, atomically, and close it."""
    plt = pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)


def arrows_figure(img: np.ndarray, flow: np.ndarray, step: int | None = None):
    """The first image with the flow drawn as arrows (one per ``step`` pixels), coloured by the wheel; short
    motions are drawn longer (by the factor in the title) so that the longest arrows span about one step."""
    plt = pyplot()
    h, w = flow.shape[:2]
    step = step or max(8, min(h, w) // 24)
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    f = flow[ys, xs]
    ok = flow_valid_mask(f)
    colors = flow_to_color(f).reshape(-1, 3)[ok.ravel()] / 255
    speed = np.hypot(f[..., 0], f[..., 1])[ok]
    gain = max(1.0, 0.9 * step / max(float(np.percentile(speed, 99)) if speed.size else 0.0, 1e-6))
    fig, ax = plt.subplots(figsize=(w / 100, h / 100 + 0.3))
    ax.imshow(img)
    ax.quiver(xs[ok], ys[ok], f[..., 0][ok], f[..., 1][ok], color=colors, angles="xy", scale_units="xy",
              scale=1 / gain, width=0.003, headwidth=4, edgecolor="black", linewidth=0.3)
    ax.set_title(f"flow x {gain:.3g}" if gain > 1 else "flow (true length)", fontsize=9)
    ax.set_axis_off()
    return fig


def endpoint_error_map(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel end-point error and the mask of valid ground truth (H x W each)."""
    valid = flow_valid_mask(gt)
    err = np.hypot(*(zero_invalid(gt, valid) - pred).transpose(2, 0, 1))
    return err, valid


def error_figure(pred: np.ndarray, gt: np.ndarray, max_error: float | None = None):
    """A heat map of the end-point error with a colour bar (unknown ground truth shown grey)."""
    plt = pyplot()
    err, valid = endpoint_error_map(pred, gt)
    h, w = err.shape
    fig, ax = plt.subplots(figsize=(w / 100 + 1.2, h / 100))
    shown = np.ma.masked_where(~valid, err)
    cmap = plt.get_cmap("inferno").with_extremes(bad="0.5")
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=max_error or max(float(np.percentile(err[valid], 99)), 1e-3))
    fig.colorbar(im, ax=ax, label="end-point error (px)", fraction=0.046, pad=0.02)
    ax.set_title(f"EPE {err[valid].mean():.3f} px")
    ax.set_axis_off()
    return fig


def compare_figure(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]):
    """One row per (name, image, gt flow, predicted flow): the image, the ground truth and the prediction
    coloured on one shared scale, and the error map with the pair's EPE in its title."""
    plt = pyplot()
    h, w = rows[0][1].shape[:2]
    fig, axes = plt.subplots(len(rows), 4, figsize=(4 * 3.2, len(rows) * 3.2 * h / w + 0.4), squeeze=False)
    for ax_row, (name, img, gt, pred) in zip(axes, rows):
        err, valid = endpoint_error_map(pred, gt)
        scale = float(np.hypot(gt[..., 0], gt[..., 1])[valid].max()) if valid.any() else None
        ax_row[0].imshow(img)
        ax_row[0].set_title(name, fontsize=9)
        ax_row[1].imshow(flow_to_color(gt, scale))
        ax_row[1].set_title("ground truth", fontsize=9)
        ax_row[2].imshow(flow_to_color(pred, scale))
        ax_row[2].set_title("prediction", fontsize=9)
        ax_row[3].imshow(np.ma.masked_where(~valid, err), cmap="inferno", vmin=0,
                         vmax=max(float(np.percentile(err[valid], 99)), 1e-3) if valid.any() else 1)
        ax_row[3].set_title(f"error, EPE {err[valid].mean():.2f} px", fontsize=9)
        for ax in ax_row:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------- training curves
def read_curves(run: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """(step, value) series of train_epe_step, train_epe_epoch and val_epe from a run's CSV logs, over all its
    sittings (``logs/version_*/metrics.csv`` after an older ``logs/metrics.csv``, or a metrics.csv given
    directly)."""
    run = Path(run)
    files = [run] if run.is_file() else [*(run / "logs").glob("metrics.csv"), *sorted(
        (run / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))]
    if not files:
        raise FlowNetError("no training log (expected logs/version_*/metrics.csv)", run)
    curves: dict[str, dict[int, float]] = {"train_epe_step": {}, "train_epe_epoch": {}, "val_epe": {}}
    for f in files:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                for key, series in curves.items():
                    if row.get(key):
                        series[int(row["step"])] = float(row[key])  # a later sitting overrides repeated steps
    if not any(curves.values()):
        raise FlowNetError("the training log has no EPE values yet", files[0])
    return {k: sorted(v.items()) for k, v in curves.items()}


def curves_figure(curves: dict[str, list[tuple[int, float]]], title: str = ""):
    """Training EPE (per step, smoothed, and per epoch) and validation EPE against the optimiser step."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = curves["train_epe_step"]
    if steps:
        x, y = np.array(steps).T
        ax.plot(x, y, color="tab:blue", alpha=0.2, lw=0.8)
        k = max(1, len(y) // 50)
        ax.plot(x[k - 1:], np.convolve(y, np.ones(k) / k, mode="valid"), color="tab:blue", label="train EPE (step)")
    for key, style, color, label in (("train_epe_epoch", "s-", "tab:green", "train EPE (epoch)"),
                                     ("val_epe", "o-", "tab:orange", "val EPE")):
        if curves[key]:
            ax.plot(*np.array(curves[key]).T, style, color=color, ms=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("EPE (px)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return fig
