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


def color_scale(flow: np.ndarray, max_flow: float | None = None) -> float:
    """The speed (px) drawn at full saturation: ``max_flow``, else the largest valid speed (1 without motion)."""
    if max_flow is None:
        flow = np.asarray(flow, dtype=np.float64)
        valid = flow_valid_mask(flow)
        max_flow = float(np.hypot(flow[..., 0], flow[..., 1])[valid].max()) if valid.any() else 0.0
    return max_flow if max_flow > 0 else 1.0


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code an H x W x 2 flow; ``max_flow`` fixes the speed of full saturation (default: the largest
    valid speed), so that several pictures can share one scale."""
    flow = np.asarray(flow, dtype=np.float64)
    valid = flow_valid_mask(flow)
    u, v = zero_invalid(flow, valid).transpose(2, 0, 1)
    speed = np.hypot(u, v)
    max_flow = color_scale(flow, max_flow)
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


def add_legend(img: np.ndarray, max_flow: float) -> np.ndarray:
    """``img`` with a white panel on its right (never over the picture): the colour wheel, whose edge is the speed
    of full saturation, and that speed written under it ("edge = 12.3 px"). Short pictures get white below."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = img.shape[:2]
    size = min(201, max(41, int(h * 0.4))) | 1
    font = ImageFont.load_default(max(10, size // 8))
    lines = ["wheel edge =", f"{max_flow:.3g} px"]
    text_w = max(int(np.ceil(font.getlength(s))) for s in lines)
    line_h = int(font.size * 1.3)
    pad = max(6, size // 12)
    panel_w = max(size, text_w) + 2 * pad
    out = np.full((max(h, size + 2 * pad + len(lines) * line_h), w + panel_w, 3), 255, np.uint8)
    out[:h, :w] = img
    left = w + (panel_w - size) // 2
    out[pad:pad + size, left:left + size] = wheel_legend(size)
    canvas = Image.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines):
        draw.text((w + panel_w / 2, pad + size + pad // 2 + k * line_h), line, fill=(0, 0, 0), font=font, anchor="ma")
    return np.asarray(canvas)


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


def nice_number(x: float) -> float:
    """The largest of 1, 2, 3, 5 x 10^k not above ``x`` (``x`` > 0)."""
    k = np.floor(np.log10(x))
    return float(max(m * 10 ** k for m in (1, 2, 3, 5) if m * 10 ** k <= x * (1 + 1e-9)))


def arrows_figure(img: np.ndarray, flow: np.ndarray, step: int | None = None):
    """The first image at full size (one figure pixel per image pixel) with the flow drawn as arrows, one per
    ``step`` pixels, coloured by the wheel. Short motions are drawn longer by a round factor so that the longest
    arrows span about one step; a strip below says the factor and shows a key arrow of a round length in px."""
    plt = pyplot()
    h, w = flow.shape[:2]
    step = step or max(8, min(h, w) // 24)
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    f = flow[ys, xs]
    ok = flow_valid_mask(f)
    colors = flow_to_color(f).reshape(-1, 3)[ok.ravel()] / 255
    speed = np.hypot(f[..., 0], f[..., 1])[ok]
    typical = float(np.percentile(speed, 99)) if speed.size else 0.0
    gain = nice_number(step / typical) if 0 < typical < step else 1.0
    key = nice_number(step / gain)  # px of motion: drawn about one step long
    strip = 40  # px below the picture for the scale
    dpi = 100
    fig = plt.figure(figsize=(w / dpi, (h + strip) / dpi), dpi=dpi)
    ax = fig.add_axes((0, strip / (h + strip), 1, h / (h + strip)))
    ax.imshow(img, interpolation="nearest")
    arrows = ax.quiver(xs[ok], ys[ok], f[..., 0][ok], f[..., 1][ok], color=colors, angles="xy", scale_units="xy",
                       scale=1 / gain, units="dots", width=1.5, headwidth=3.5, headlength=4, headaxislength=3.5,
                       edgecolor="black", linewidth=0.3)
    ax.set_axis_off()
    ax.quiverkey(arrows, 0.04, 0.5 * strip / (h + strip), key, f"{key:g} px of motion", labelpos="E",
                 coordinates="figure", color="black", fontproperties={"size": 8})
    drawn = f"arrows drawn {gain:g} x their length" if gain > 1 else "arrows at their true length"
    fig.text(0.98, 0.5 * strip / (h + strip), f"{drawn}, one per {step} px", ha="right", va="center", fontsize=8)
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
    coloured on the row's scale (its largest true speed, in the title), and the error map; the error maps of all
    rows share one square-root colour scale and one colour bar, so that equal colours are equal errors."""
    plt = pyplot()
    from matplotlib.colors import PowerNorm

    h, w = rows[0][1].shape[:2]
    errors = [endpoint_error_map(pred, gt) for _, _, gt, pred in rows]
    pooled = np.concatenate([err[valid] for err, valid in errors])
    top = max(float(np.percentile(pooled, 99.5)), 1e-3) if pooled.size else 1.0  # larger errors: the top colour
    norm = PowerNorm(0.5, vmin=0, vmax=top)  # square-root scale: errors well under 1 px stay visible
    fig, axes = plt.subplots(len(rows), 4, figsize=(4 * 3.2 + 0.8, len(rows) * 3.2 * h / w + 0.6), squeeze=False,
                             layout="constrained")
    for ax_row, (name, img, gt, pred), (err, valid) in zip(axes, rows, errors):
        scale = color_scale(gt)
        ax_row[0].imshow(img)
        ax_row[0].set_title(name, fontsize=9)
        ax_row[1].imshow(flow_to_color(gt, scale))
        ax_row[1].set_title(f"ground truth (edge {scale:.3g} px)", fontsize=9)
        ax_row[2].imshow(flow_to_color(pred, scale))
        ax_row[2].set_title("prediction, same scale", fontsize=9)
        shown = ax_row[3].imshow(np.ma.masked_where(~valid, err), cmap=plt.get_cmap("inferno").with_extremes(bad="0.5"),
                                 norm=norm)
        ax_row[3].set_title(f"error, EPE {err[valid].mean():.2f} px" if valid.any() else "error", fontsize=9)
        for ax in ax_row:
            ax.set_axis_off()
    label = "end-point error (px)" + (", all rows" if len(rows) > 1 else "")
    fig.colorbar(shown, ax=axes[:, 3].tolist(), label=label, shrink=0.6 if len(rows) > 2 else 0.9, extend="max")
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
    """Training EPE (per step: raw, faint, and smoothed, on top; per epoch) and validation EPE against the
    optimiser step, on a log scale with plain tick labels (0.5, 1, 2, 5)."""
    plt = pyplot()
    from matplotlib import ticker

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style, color, label in (("train_epe_epoch", "s-", "tab:green", "train EPE (epoch)"),
                                     ("val_epe", "o-", "tab:orange", "val EPE")):
        if curves[key]:
            ax.plot(*np.array(curves[key]).T, style, color=color, ms=3, lw=1.2, label=label, zorder=2)
    steps = curves["train_epe_step"]
    if steps:
        x, y = np.array(steps).T
        ax.plot(x, y, color="tab:blue", alpha=0.25, lw=0.8, zorder=1)
        k = max(1, len(y) // 50)
        ax.plot(x[k - 1:], np.convolve(y, np.ones(k) / k, mode="valid"), ".-" if len(y) < 30 else "-",
                color="navy", lw=1.8, label=f"train EPE (step{f', mean of {k}' if k > 1 else ''})", zorder=3)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # 0.5, 1, 2, 3: not 5 x 10^-1
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("step")
    ax.set_ylabel("EPE (px)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return fig
