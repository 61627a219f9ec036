"""End-point error, accuracy thresholds, Fl-all, the training losses (FlowNet's multiscale, RAFT's sequence);
PSNR and SSIM of frames.

Shapes: flows B x 2 x H x W in pixels; ``valid`` B x H x W (bool or 0/1), True where the ground truth is known;
images B x C x H x W in [0, 1].
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from .errors import FlowNetError

# Loss weight of flow2 ... flow6 (FlowNet, Dosovitskiy et al. 2015).
MULTISCALE_WEIGHTS = (0.005, 0.01, 0.02, 0.08, 0.32)
METRICS = ("epe", "px1", "px3", "px5", "fl_all")  # of flow_metrics


def _valid_or_all(gt: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    if valid is None:
        return torch.ones(gt.shape[0], *gt.shape[-2:], dtype=torch.bool, device=gt.device)
    return valid.bool()


def endpoint_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-pixel L2 norm of (gt - pred): B x H x W."""
    return torch.linalg.vector_norm(gt.float() - pred.float(), dim=1)


def epe(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean end-point error over all valid pixels of the batch (a scalar)."""
    return endpoint_error(pred, gt)[_valid_or_all(gt, valid)].mean()


def flow_metric_sums(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, float]:
    """The sums over the valid pixels of the batch of the end-point error ("epe"), of the indicators of an error
    under 1 / 3 / 5 px ("px1", "px3", "px5") and of outliers ("fl_all": error > 3 px and > 5 % of |gt|), with the
    number of those pixels ("pixels"): divide by it for means, add the sums of pairs for a set's pixel mean."""
    mask = _valid_or_all(gt, valid)
    err = endpoint_error(pred, gt)[mask].double()
    mag = torch.linalg.vector_norm(gt.double(), dim=1)[mask]
    return {
        "epe": err.sum().item(),
        "px1": (err < 1).sum().item(),
        "px3": (err < 3).sum().item(),
        "px5": (err < 5).sum().item(),
        "fl_all": ((err > 3) & (err > 0.05 * mag)).sum().item(),
        "pixels": err.numel(),
    }


def flow_metrics(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, float]:
    """EPE, fraction of valid pixels within 1 / 3 / 5 px, and Fl-all (EPE > 3 px and > 5 % of |gt|), over all
    valid pixels of the batch."""
    sums = flow_metric_sums(pred, gt, valid)
    if not sums["pixels"]:
        raise ValueError("no valid pixel to evaluate")
    return {m: sums[m] / sums["pixels"] for m in METRICS}


def downsample_flow(flow: torch.Tensor, valid: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-average the valid part of ``flow`` to ``size`` (values unchanged: still full-resolution pixels).

    Returns the pooled flow and the pooled validity (a pooled pixel counts as valid if at least half its area is).
    """
    v = valid.float().unsqueeze(1)
    weight = F.adaptive_avg_pool2d(v, size)
    pooled = F.adaptive_avg_pool2d(flow * v, size) / weight.clamp_min(1e-6)
    return pooled, weight.squeeze(1) >= 0.5


def multiscale_loss(
    preds: list[torch.Tensor],
    gt: torch.Tensor,
    valid: torch.Tensor | None = None,
    div_flow: float = 20.0,
    weights: tuple[float, ...] = MULTISCALE_WEIGHTS,
) -> torch.Tensor:
    """FlowNet's training loss: sum over scales of weight x (EPE summed over the valid pixels, per sample).

    ``preds`` is the training output [flow2, ..., flow6] in flow / ``div_flow`` units; the ground truth is
    area-pooled to each scale and divided by ``div_flow``. Summing over pixels (not averaging) lets the
    finer, larger scales carry most of the weight, as in the original training.
    """
    if len(preds) != len(weights):
        raise ValueError(f"expected {len(weights)} predictions, got {len(preds)}")
    valid = _valid_or_all(gt, valid)
    target = gt.float() / div_flow
    total = gt.new_zeros((), dtype=torch.float32)
    for pred, weight in zip(preds, weights):
        t, v = downsample_flow(target, valid, tuple(pred.shape[-2:]))
        total = total + weight * (endpoint_error(pred, t) * v).sum()
    return total / gt.shape[0]


def sequence_loss(preds: list[torch.Tensor], gt: torch.Tensor, valid: torch.Tensor | None = None,
                  gamma: float = 0.8) -> torch.Tensor:
    """RAFT's training loss: the mean L1 error over the valid pixels of each flow in ``preds`` ([final, ...,
    initial], B x 2 x H x W in pixels), the final one weighted 1 and each earlier one ``gamma`` times the next."""
    v = _valid_or_all(gt, valid).unsqueeze(1).float()
    pixels = v.sum().clamp_min(1) * 2
    return sum(gamma ** i * ((pred.float() - gt.float()).abs() * v).sum() / pixels for i, pred in enumerate(preds))


def psnr(img: torch.Tensor, ref: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of B x C x H x W images in [0, 1]: each image's (mean squared error over its
    pixels and channels), averaged over the batch; infinite for identical images."""
    mse = (img.double() - ref.double()).square().flatten(1).mean(1)
    return (10 * torch.log10(1 / mse)).mean().item()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian of SSIM's window (the size x size window is its outer product)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma**2))
    return g / g.sum()


def ssim(img: torch.Tensor, ref: torch.Tensor, size: int = 11, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al., IEEE TIP 2004) of images in [0, 1]: Gaussian window 11, sigma 1.5,
    K1 = 0.01, K2 = 0.03, dynamic range 1; the SSIM map over window positions inside the image ('valid'), each
    channel separately, averaged. Images smaller than the window are a FlowNetError."""
    h, w = img.shape[-2:]
    if min(h, w) < size:
        raise FlowNetError(f"SSIM needs images of at least {size}x{size} pixels, not {w}x{h}")
    c1, c2 = 0.01**2, 0.03**2
    x, y = img.double(), ref.double()
    ch = x.shape[1]
    g = gaussian_window(size, sigma).to(x)

    def blur(z: torch.Tensor) -> torch.Tensor:  # separable: down the columns, then along the rows
        z = F.conv2d(z, g.view(1, 1, size, 1).expand(ch, 1, size, 1), groups=ch)
        return F.conv2d(z, g.view(1, 1, 1, size).expand(ch, 1, 1, size), groups=ch)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return ssim_map.mean().item()
