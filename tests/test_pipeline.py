"""The classical refinement of the network's flow (flownet.pipeline), checked against known translations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("cv2")

from flownet import pipeline  # noqa: E402
from flownet.pipeline import fuse, refine_fn  # noqa: E402
from flownet.classical import import_cv2  # noqa: E402


def textured_pair(shift: tuple[int, int], size=(96, 128)) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random texture and the same texture moved by the integer ``shift`` = (dx, dy) pixels: the second
    image at p + shift shows the first at p, so the true flow is ``shift`` everywhere (away from the border)."""
    g = torch.Generator().manual_seed(0)
    h, w = size
    big = F.interpolate(torch.rand(1, 3, h // 4 + 8, w // 4 + 8, generator=g), size=(h + 32, w + 32), mode="bicubic",
                        align_corners=False).clamp(0, 1)
    dx, dy = shift
    img1 = big[..., 16:16 + h, 16:16 + w]
    img2 = big[..., 16 - dy:16 - dy + h, 16 - dx:16 - dx + w]
    return img1.contiguous(), img2.contiguous()


def epe_inside(flow: torch.Tensor, shift: tuple[int, int], border: int = 12) -> float:
    truth = torch.tensor(shift, dtype=torch.float32)[:, None, None]
    return (flow[0] - truth).norm(dim=0)[border:-border, border:-border].mean().item()


@pytest.mark.parametrize("refine, gain", [("fuse", 0.1), ("variational", 0.75)])
def test_refinement_corrects_a_biased_flow(refine, gain):
    """A 'network' that is off by (1.5, -1.0) px everywhere: the refinement brings the flow back to the known
    translation (a swapped u/v or a wrong sign in the fusion would not)."""
    shift = (3, -2)
    img1, img2 = textured_pair(shift)
    bias = torch.tensor([1.5, -1.0])[None, :, None, None]

    def biased(a, b):
        return torch.tensor(shift, dtype=torch.float32)[None, :, None, None].expand(1, 2, *a.shape[-2:]) + bias

    before = epe_inside(biased(img1, img2), shift)
    after = epe_inside(refine_fn(biased, refine)(img1, img2), shift)
    assert before == pytest.approx(1.80, abs=0.01)
    assert after < gain * before, after


def test_fuse_keeps_the_network_where_dis_is_inconsistent():
    """DIS's forward flow is taken only where its backward flow brings pixels back within 1 px."""
    cv2 = import_cv2()
    img1, img2 = textured_pair((2, 1))
    gray = [np.rint(x[0].mean(0).numpy() * 255).astype(np.uint8) for x in (img1, img2)]
    h, w = gray[0].shape
    net = np.zeros((h, w, 2), np.float32)
    dis_fw = np.zeros((h, w, 2), np.float32)
    dis_fw[...] = (2, 1)  # the truth: smaller brightness error than the network's zero flow
    dis_bw = -dis_fw.copy()
    dis_bw[:, : w // 2] = (5, 5)  # inconsistent in the left half
    out = fuse(cv2, gray[0], gray[1], net, dis_fw, dis_bw)
    inner = slice(8, -8)
    assert np.allclose(out[inner, w // 2 + 8:-8], (2, 1))
    assert np.allclose(out[inner, 8:w // 2 - 8], 0)


def test_fuse_round_trip_reads_the_backward_flow_where_the_forward_flow_lands():
    """Forward flow (6, 0) everywhere; the backward flow is (-6, 0) from column 40 on, garbage left of it. The round
    trip returns home for every pixel whose landing column x + 6 is at least 40, i.e. from column 34 on. Reading the
    backward flow at p (no warping), at p - flow (a sign flipped) or at p + (0, 6) (u/v swapped) moves that edge to
    column 40 or 46."""
    cv2 = import_cv2()
    rng = np.random.default_rng(1)
    gray1 = cv2.GaussianBlur(rng.integers(0, 256, (48, 96)).astype(np.uint8), (5, 5), 1.5)
    gray2 = np.roll(gray1, 6, axis=1)  # gray2(x + 6) = gray1(x): the forward flow is the truth, the network's 0 is not
    h, w = gray1.shape
    net = np.zeros((h, w, 2), np.float32)
    dis_fw = np.zeros((h, w, 2), np.float32)
    dis_fw[..., 0] = 6
    dis_bw = np.full((h, w, 2), 5, np.float32)
    dis_bw[:, 40:] = (-6, 0)
    taken = (fuse(cv2, gray1, gray2, net, dis_fw, dis_bw)[8:-8, 10:-10, 0] == 6).all(axis=0)
    assert taken.tolist() == [False] * 24 + [True] * 52  # columns 10..33 kept the network's, 34..85 took DIS's


def test_fuse_runs_the_network_at_half_size():
    """fuse's network sees the frames at FUSE_NET_SCALE of their size and its flow comes back in full-size px: a
    network answering (2, 1) px at half size means (4, 2) px at full size, which the textured pair's true shift is;
    the fused flow stays there. Catches the network run at full size or its flow left in half-size pixels."""
    seen = []

    def half_truth(a, b):
        seen.append(tuple(a.shape[-2:]))
        return torch.tensor([2.0, 1.0]).view(1, 2, 1, 1).expand(1, 2, *a.shape[-2:])

    img1, img2 = textured_pair((4, 2))
    flow = refine_fn(half_truth, "fuse")(img1, img2)
    assert seen == [(48, 64)] and pipeline.FUSE_NET_SCALE == 0.5
    assert epe_inside(flow, (4, 2)) < 0.2


def test_none_is_the_network_alone():
    def flow_fn(a, b):
        return torch.zeros(1, 2, *a.shape[-2:])

    assert refine_fn(flow_fn, "none") is flow_fn


def test_warp_error_reads_u_rightwards_and_v_downwards():
    """The brightness error of a horizontal translation is ~0 under the true flow (u, 0) and large under (0, u):
    catches a u/v swap in ``warp_error`` (the reference shift is np.roll, not our warping)."""
    cv2 = import_cv2()
    rng = np.random.default_rng(0)
    gray1 = cv2.GaussianBlur(rng.integers(0, 256, (64, 80)).astype(np.uint8), (5, 5), 1.5)
    gray2 = np.roll(gray1, 4, axis=1)  # content moves 4 px right: gray2(x + 4) = gray1(x)
    flow = np.zeros((64, 80, 2), np.float32)
    flow[..., 0] = 4
    inner = (slice(8, -8), slice(8, -8))
    assert pipeline.warp_error(cv2, gray1, gray2, flow, 3)[inner].max() < 0.5
    assert pipeline.warp_error(cv2, gray1, gray2, flow[..., ::-1].copy(), 3)[inner].mean() > 5


def test_fuse_keeps_the_network_where_consistent_dis_matches_worse():
    """DIS's flow is self-consistent (backward = -forward) but wrong; the network's is right: the brightness
    comparison keeps the network's. Catches ``fuse`` without the comparison (it would take DIS's everywhere)."""
    cv2 = import_cv2()
    img1, img2 = textured_pair((2, 1))
    gray = [np.rint(x[0].mean(0).numpy() * 255).astype(np.uint8) for x in (img1, img2)]
    h, w = gray[0].shape
    net = np.zeros((h, w, 2), np.float32)
    net[...] = (2, 1)
    dis_fw = np.zeros((h, w, 2), np.float32)
    dis_fw[...] = (-3, 2)
    out = fuse(cv2, gray[0], gray[1], net, dis_fw, -dis_fw)
    assert np.allclose(out[8:-8, 8:-8], (2, 1))


@pytest.mark.parametrize("refine", ["fuse", "variational"])
def test_variational_pass_refines_a_float64_flow(refine):
    """A network whose flow comes as float64 (OpenCV then refines a converted copy): the refined flow must still
    improve on it. Catches ignoring the flow that ``VariationalRefinement.calc`` returns."""
    shift = (3, -2)
    img1, img2 = textured_pair(shift)

    def biased64(a, b):
        return (torch.tensor([shift[0] + 0.6, shift[1] - 0.4], dtype=torch.float64)[None, :, None, None]
                .expand(1, 2, *a.shape[-2:]))

    before = epe_inside(biased64(img1, img2).float(), shift)
    after = epe_inside(refine_fn(biased64, refine)(img1, img2).float(), shift)
    assert after < 0.75 * before, (before, after)


def test_images_too_small_for_opencv_are_a_clear_error():
    """8 x 8 images: a FlowNetError saying so, not OpenCV's exception from inside DIS."""
    from flownet.errors import FlowNetError

    tiny = torch.rand(1, 3, 8, 8)
    with pytest.raises(FlowNetError, match="too small"):
        refine_fn(lambda a, b: torch.zeros(1, 2, 8, 8), "fuse")(tiny, tiny)


def test_flow_at_a_smaller_size_comes_back_in_full_size_pixels():
    """A flow function that answers (1, 0.5) px at whatever size it is given: at 0.3 x a 64 x 96 pair it sees
    19 x 29 and the flow comes back as (96/29, 64/19) px at 64 x 96. Catches a missing rescale or the two axes'
    factors swapped."""
    seen = []

    def fixed(a, b):
        seen.append(tuple(a.shape[-2:]))
        return torch.tensor([1.0, 0.5]).view(1, 2, 1, 1).expand(a.shape[0], 2, *a.shape[-2:])

    img = torch.rand(1, 3, 64, 96)
    flow = pipeline.ScaledFlow(fixed, 0.3)(img, img)
    assert seen == [(19, 29)] and flow.shape == (1, 2, 64, 96)
    assert torch.allclose(flow[:, 0], torch.tensor(96 / 29)) and torch.allclose(flow[:, 1], torch.tensor(0.5 * 64 / 19))
    sizes = [(480, 640), (720, 1280), (2160, 3840)]
    assert [pipeline.flow_scale(h, w) for h, w in sizes] == [1, 0.5, 0.25]


def test_dis_at_half_size_follows_a_known_translation():
    from flownet.classical import classical_flow_fn

    shift = (6, -4)
    img1, img2 = textured_pair(shift, size=(128, 160))
    flow = pipeline.ScaledFlow(classical_flow_fn("dis-medium"), 0.5)(img1, img2)
    assert epe_inside(flow, shift, border=16) < 0.5


def test_refine_auto_is_none_only_after_a_model_that_starts_from_dis():
    """--refine auto: fuse after FlowNetS and raft-lite; none after raft-lite-dis (fusing DIS into a correction of
    DIS would spend two more DIS calls and a variational pass on what the model already holds)."""
    from flownet.models import get_model
    from flownet.pipeline import auto_refine

    small = {"feature_dim": 8, "hidden_dim": 8, "context_dim": 8}
    assert auto_refine(get_model("flownets", width=0.125)) == "fuse"
    assert auto_refine(get_model("raft-lite", **small)) == "fuse"
    assert auto_refine(get_model("raft-lite-dis", scale=0.5, **small)) == "none"
