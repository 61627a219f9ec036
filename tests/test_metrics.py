"""EPE, accuracy thresholds and the multiscale loss against hand computations."""

import math

import pytest
import torch

from flownet.metrics import MULTISCALE_WEIGHTS, downsample_flow, epe, flow_metrics, multiscale_loss


def test_epe_by_hand():
    gt = torch.zeros(1, 2, 1, 3)
    pred = torch.tensor([[[[3.0, 0.0, 1.0]], [[4.0, 0.0, 1.0]]]])  # errors 5, 0, sqrt(2)
    assert epe(pred, gt).item() == pytest.approx((5 + 0 + math.sqrt(2)) / 3)
    valid = torch.tensor([[[True, False, True]]])
    assert epe(pred, gt, valid).item() == pytest.approx((5 + math.sqrt(2)) / 2)


def test_flow_metrics_thresholds_and_fl_all():
    gt = torch.zeros(1, 2, 1, 4)
    gt[0, 0] = torch.tensor([100.0, 1.0, 0.0, 0.0])
    pred = gt.clone()
    pred[0, 0] += torch.tensor([4.0, 0.5, 2.0, 6.0])  # errors 4 (but < 5% of 100? no: 4 < 5), 0.5, 2, 6
    m = flow_metrics(pred, gt)
    assert m["epe"] == pytest.approx((4 + 0.5 + 2 + 6) / 4)
    assert m["px1"] == pytest.approx(1 / 4)
    assert m["px3"] == pytest.approx(2 / 4)
    assert m["px5"] == pytest.approx(3 / 4)
    # Fl-all: error > 3 px and > 5 % of |gt|: 4 px vs |gt| 100 -> 4 % (not an outlier); 6 px vs 0 -> outlier
    assert m["fl_all"] == pytest.approx(1 / 4)


def test_downsample_flow_ignores_invalid_pixels():
    flow = torch.tensor([[[[2.0, 100.0], [2.0, 2.0]]]]).expand(1, 2, 2, 2)
    valid = torch.tensor([[[True, False], [True, True]]])
    pooled, v = downsample_flow(flow, valid, (1, 1))
    assert torch.allclose(pooled, torch.full((1, 2, 1, 1), 2.0))
    assert v.item()


@pytest.mark.parametrize("scale", range(5))
def test_multiscale_loss_weights(scale):
    """Error at one scale only: loss = weight x (EPE summed over that scale's pixels) / batch."""
    batch, h, w = 2, 64, 128
    gt = torch.zeros(batch, 2, h, w)
    preds = [torch.zeros(batch, 2, h // 4 // 2**k, w // 4 // 2**k) for k in range(5)]
    preds[scale] += 1.0  # EPE sqrt(2) at every pixel of that scale
    npix = preds[scale].shape[-1] * preds[scale].shape[-2]
    expected = MULTISCALE_WEIGHTS[scale] * math.sqrt(2) * npix
    assert multiscale_loss(preds, gt).item() == pytest.approx(expected, rel=1e-5)


def test_multiscale_loss_scales_ground_truth_by_div_flow():
    gt = torch.full((1, 2, 64, 64), 20.0)
    preds = [torch.ones(1, 2, 16 // 2**k, 16 // 2**k) for k in range(5)]  # = 20 px / div_flow 20
    assert multiscale_loss(preds, gt, div_flow=20.0).item() == pytest.approx(0.0, abs=1e-6)
