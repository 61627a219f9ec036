"""Self-supervised training (flownet.unsupervised, flownet train --unsupervised): the loss is smallest at the true
flow, whatever the brightness change, and training from a clip runs from the command line."""

import subprocess
import sys

import imageio_ffmpeg
import pytest
import torch
import torch.nn.functional as F

from flownet.unsupervised import census_error, unsupervised_loss


def textured_pair(shift=(3, -2), size=(64, 80), gain=1.0):
    """A smooth random texture and the same texture moved by the integer ``shift`` = (dx, dy), the second frame's
    brightness scaled by ``gain``: the true flow is ``shift`` everywhere (away from the border)."""
    g = torch.Generator().manual_seed(0)
    h, w = size
    big = F.interpolate(torch.rand(1, 3, h // 4 + 8, w // 4 + 8, generator=g), size=(h + 32, w + 32),
                        mode="bicubic", align_corners=False).clamp(0, 1)
    dx, dy = shift
    return big[..., 16:16 + h, 16:16 + w], gain * big[..., 16 - dy:16 - dy + h, 16 - dx:16 - dx + w]


def constant(u, v, size=(64, 80)):
    return torch.tensor([u, v], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, *size)


def test_census_error_is_smallest_at_the_true_flow_despite_a_brightness_change():
    """The second frame 30 % darker: the census error at the true (3, -2) stays far below that at (-2, 3) (u/v
    swapped) or (-3, 2) (the sign flipped): catches a warp in the wrong direction and a brightness-dependent loss."""
    img1, img2 = textured_pair(gain=0.7)
    visible = torch.ones(1, 1, 64, 80)
    right = census_error(img1, img2, constant(3, -2), visible)
    for wrong in (constant(-2, 3), constant(-3, 2), constant(0, 0)):
        assert census_error(img1, img2, wrong, visible) > 5 * right


def test_minimising_the_loss_moves_the_flow_towards_the_truth():
    """A free flow field, started at zero and moved by the loss's gradient alone, goes most of the way to the true
    (2, -1): catches a loss whose warping or occlusion masks point the wrong way (it would push the flow away)."""
    img1, img2 = textured_pair(shift=(2, -1))
    flow = torch.zeros(1, 2, 64, 80, requires_grad=True)
    opt = torch.optim.Adam([flow], lr=0.1)
    for _ in range(200):
        loss = unsupervised_loss([flow], [-flow], img1, img2)  # (a translation's backward flow is its negative)
        opt.zero_grad()
        loss.backward()
        opt.step()
    error = (flow.detach()[0, :, 12:-12, 12:-12] - constant(2, -1)[0, :, 12:-12, 12:-12]).norm(dim=0).mean()
    assert error < 0.6 * 5 ** 0.5, error  # from |(2, -1)| = 2.24 at the start


@pytest.mark.slow
def test_train_unsupervised_from_a_video(tmp_path):
    """`flownet train --model raft-lite --data VIDEO --unsupervised --epochs 1` on a generated clip."""
    clip = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=96x64:rate=10:duration=1.2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "train", "--model", "raft-lite", "--data", str(clip),
                        "--unsupervised", "--epochs", "1", "--batch-size", "2", "--crop", "64x64", "--num-workers",
                        "0", "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "run" / "model.pt").is_file()
    metrics = next((tmp_path / "run" / "logs").glob("version_*/metrics.csv")).read_text()
    assert "val_loss" in metrics.splitlines()[0]
