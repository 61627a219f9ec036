"""Frame interpolation by warping along the flow: any time t between two frames, N frames, whole videos.

For frames I0, I1 and t in (0, 1), with F01 and F10 from any flow function, the flows from time t back to the two
frames are approximated as in Super SloMo (Jiang et al., CVPR 2018):
    F_t0 = -(1 - t) t F01 + t^2 F10,        F_t1 = (1 - t)^2 F01 - t (1 - t) F10,
and the frame at t is made by a ``Synthesis``: either ``learned_synthesis`` (a trained ``SynthesisNet`` corrects the
intermediate flows, blends with soft visibility and adds a residual: the command's default), or ``warp_blend``:
both frames warped to t and blended with weights (1 - t) and t times each frame's visibility from the
forward-backward check (a point at time t whose frame-0 pixel has no consistent match in frame 1 is taken from
frame 0 only, and the other way round; where neither frame sees it the plain blend of the warped frames is used).

Pairs whose frames are identical are copied; pairs across a scene cut (no flow explains one frame by the other)
are not warped: frames before t = 0.5 repeat I0, the others I1. Images are B x 3 x H x W float tensors in [0, 1].
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import io
from .concurrency import prefetched
from .errors import FlowNetError
from .fileutil import atomic_folder
from .pipeline import ScaledFlow
from .types import FlowFn
from .warp import (backward_warp, blend_weights, consistency_masks, intermediate_flows, resize_flow, resize_mask,
                   warp_image)

TRUST_WINDOW = 9  # px: side of the square over which the trust in the flow is averaged (frame_at) ...
TRUST_SHARE = 0.2  # ... and the share of roughly consistent points in it up to which the flow counts as failed
STRICT_CHECK = (0.01, 0.5)  # consistency_mask's alpha1, alpha2 for the visibility of warp_blend (its defaults)
LOOSE_CHECK = (0.1, 9.0)  # and for trust: back within 3 px + ~45 % of the motion
SAME_LEVEL = 1.5 / 255  # largest absolute difference of frames that count as identical
CUT_RESIDUAL = 0.10  # mean |I0 - I1 warped to I0| above which no flow explains the pair (a scene cut) ...
CUT_GAIN = 0.6  # ... unless warping removed at least 40 % of the plain difference


@dataclass
class PairFlows:
    """What interpolating between two frames needs, computed once for any number of times t: the flows both ways
    and their masks at the size the flow was estimated at (``scale`` x the frames' size, see
    ``pipeline.ScaledFlow``): only the final warps of the frames are done at full size."""

    kind: str  # "flow", "same" (identical frames) or "cut" (scene cut: no warping)
    f01: torch.Tensor | None = None
    f10: torch.Tensor | None = None
    seen0: torch.Tensor | None = None  # consistency of frame-0 pixels (1: seen again in frame 1)
    seen1: torch.Tensor | None = None
    follow0: torch.Tensor | None = None  # the looser check of ``trust``: the flow roughly explains the pixel
    follow1: torch.Tensor | None = None
    scale: float = 1.0

    def full_size(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(f01, f10) at the frames' ``size`` (H, W), in its pixels."""
        return resize_flow(self.f01, size), resize_flow(self.f10, size)


def is_same(img0: torch.Tensor, img1: torch.Tensor) -> bool:
    """Whether two frames are identical up to 8-bit rounding noise (``SAME_LEVEL``)."""
    return bool((img0 - img1).abs().max() <= SAME_LEVEL)


def is_cut(img0: torch.Tensor, img1: torch.Tensor, f01: torch.Tensor) -> bool:
    """Whether the flow ``f01`` fails to explain ``img0`` by ``img1`` (a scene cut): the mean gray difference
    left after warping is above ``CUT_RESIDUAL`` and warping removed less than 40 % of the plain difference."""
    residual = (io.luma(img0) - io.luma(backward_warp(img1, f01)[0])).abs().mean()
    plain = (io.luma(img0) - io.luma(img1)).abs().mean()
    return bool(residual > CUT_RESIDUAL and residual > CUT_GAIN * plain)


def pair_flows(img0: torch.Tensor, img1: torch.Tensor, flow_fn: FlowFn) -> PairFlows:
    """Flows both ways (one batched call), the consistency masks, and whether the pair is a cut or a repeat; all
    at the flow's own size when ``flow_fn`` is a ``ScaledFlow``."""
    if is_same(img0, img1):
        return PairFlows("same")
    scaled = flow_fn if isinstance(flow_fn, ScaledFlow) else ScaledFlow(flow_fn, 1.0)
    small0, small1 = scaled.shrink(torch.cat([img0, img1])).chunk(2)  # each frame shrunk once
    f01, f10 = scaled.flow_fn(torch.cat([small0, small1]), torch.cat([small1, small0])).to(img0).chunk(2)
    if is_cut(small0, small1, f01):
        return PairFlows("cut")
    (seen0, follow0), (seen1, follow1) = (consistency_masks(a, b, [STRICT_CHECK, LOOSE_CHECK])
                                          for a, b in ((f01, f10), (f10, f01)))
    return PairFlows("flow", f01, f10, seen0, seen1, follow0, follow1, f01.shape[-1] / img0.shape[-1])


Synthesis = Callable[..., torch.Tensor]
"""(img0, img1, PairFlows, t, trusted=None) -> the frame at t; ``trusted``: see ``warp_blend``."""


def warp_blend(img0: torch.Tensor, img1: torch.Tensor, flows: PairFlows, t: float,
               trusted: torch.Tensor | None = None) -> torch.Tensor:
    """The frame at t by warping both frames along Super SloMo's intermediate flows and blending them with weights
    (1 - t) and t times each frame's visibility from the consistency check (``--synthesis warp``); where
    ``trusted`` (B x 1 x h x w at the flow's size, from ``trust``) is below 1, given way to the plain blend
    (1 - t) I0 + t I1. Every weight is made at the flow's size: at full size the frame is one weighted sum of the
    two warped and the two input frames."""
    ft0, ft1 = intermediate_flows(flows.f01, flows.f10, t)
    seen_in_1, inside0 = backward_warp(flows.seen0, ft0)  # the point's frame-0 pixel has a match in frame 1
    seen_in_0, inside1 = backward_warp(flows.seen1, ft1)
    k0, k1 = blend_weights(t, seen_in_0 * inside0, seen_in_1 * inside1)
    weights = [k0, k1] if trusted is None else [trusted * k0, trusted * k1, (1 - trusted) * (1 - t), (1 - trusted) * t]
    size = img0.shape[-2:]
    ft0, ft1 = resize_flow(torch.cat([ft0, ft1]), size).chunk(2)
    weights = resize_mask(torch.cat(weights, 1), size).unbind(1)
    out = warp_image(img0, ft0).mul_(weights[0][:, None])
    out.addcmul_(warp_image(img1, ft1), weights[1][:, None])
    if trusted is not None:
        out.addcmul_(img0, weights[2][:, None]).addcmul_(img1, weights[3][:, None])
    return out.clamp_(0, 1)


def learned_synthesis(model: torch.nn.Module) -> Synthesis:
    """The frame at t from a trained ``SynthesisNet`` (``--synthesis learned``), in inference mode on the model's
    device, from the flows at the frames' size; the frame comes back on the device of ``img0``."""
    model = model.eval()
    device = next(model.parameters()).device

    def synthesis(img0: torch.Tensor, img1: torch.Tensor, flows: PairFlows, t: float,
                  trusted: torch.Tensor | None = None) -> torch.Tensor:
        with torch.inference_mode():
            inputs = (x.to(device) for x in (img0, img1, *flows.full_size(img0.shape[-2:])))
            made = model(*inputs, t).clamp(0, 1).to(img0.device)
        if trusted is None:
            return made
        return torch.lerp((1 - t) * img0 + t * img1, made, resize_mask(trusted, img0.shape[-2:]))

    return synthesis


def trust(flows: PairFlows, t: float) -> torch.Tensor:
    """B x 1 x h x w in [0, 1] at the flow's size, from the share, in a ``TRUST_WINDOW`` square (of full-size px)
    around each point at time t, of the points whose flow at least one of the two frames roughly confirms (the loose
    forward-backward check ``LOOSE_CHECK``): 0 up to ``TRUST_SHARE``, 1 from four times that. Only where the flow
    has failed: on 24 generated and 24 sample-clip triplets (warping on DIS flow) this costs 0.24 and 0.09 dB
    against no fallback, where falling back wherever the strict check fails cost 0.86 and 0.57 dB (the plain blend
    is worse than an imprecise flow)."""
    ft0, ft1 = intermediate_flows(flows.f01, flows.f10, t)
    seen = torch.maximum(backward_warp(flows.follow0, ft0)[0], backward_warp(flows.follow1, ft1)[0])
    window = round(TRUST_WINDOW * flows.scale) // 2 * 2 + 1
    share = F.avg_pool2d(seen, window, stride=1, padding=window // 2, count_include_pad=False)
    return ((share - TRUST_SHARE) / (3 * TRUST_SHARE)).clamp(0, 1)


def frame_at(img0: torch.Tensor, img1: torch.Tensor, flows: PairFlows, t: float,
             synthesis: Synthesis = warp_blend) -> torch.Tensor:
    """The frame at time t in [0, 1] between ``img0`` and ``img1``: the input frame itself at t = 0 and t = 1, a
    copy for identical frames, the nearer frame across a cut, else ``synthesis``, which gives way smoothly to the
    plain blend (1 - t) I0 + t I1 where neither frame's flow can be trusted (``trust``): motion the flow cannot
    follow looks soft there instead of breaking into speckles."""
    if flows.kind == "same" or t == 0:
        return img0.clone()
    if t == 1:
        return img1.clone()
    if flows.kind == "cut":
        return (img0 if t < 0.5 else img1).clone()
    return synthesis(img0, img1, flows, t, trust(flows, t))


def interpolate(img0: torch.Tensor, img1: torch.Tensor, flow_fn: FlowFn, times: Sequence[float],
                synthesis: Synthesis = warp_blend) -> list[torch.Tensor]:
    """Frames at each of ``times`` (flows computed once)."""
    return list(iter_interpolate(img0, img1, flow_fn, times, synthesis))


def iter_interpolate(img0: torch.Tensor, img1: torch.Tensor, flow_fn: FlowFn, times: Sequence[float],
                     synthesis: Synthesis = warp_blend) -> Iterator[torch.Tensor]:
    """Frames at each of ``times``, made one at a time (flows computed once): any number fits in memory."""
    for t in times:
        if not 0 <= t <= 1:
            raise FlowNetError(f"time t must be between 0 and 1, got {t}")
    flows = pair_flows(img0, img1, flow_fn)
    for t in times:
        yield frame_at(img0, img1, flows, t, synthesis)


def even_times(n: int) -> list[float]:
    """The times of n evenly spaced in-between frames: 1/(n+1), ..., n/(n+1)."""
    return [k / (n + 1) for k in range(1, n + 1)]


def time_names(times: Sequence[float]) -> list[str]:
    """File stems that carry each frame's time, with as many decimals as tell them apart: frame_t0.250, ..."""
    decimals = 3
    while len({f"{t:.{decimals}f}" for t in times}) < len(times):
        decimals += 1
    return [f"frame_t{t:.{decimals}f}" for t in times]


def interpolate_to_folder(img0: torch.Tensor, img1: torch.Tensor, flow_fn: FlowFn, times: Sequence[float],
                          out: str | os.PathLike, progress: bool = True, synthesis: Synthesis = warp_blend
                          ) -> list[str]:
    """Write the frames at ``times`` into the folder ``out`` as ``time_names(times)`` PNGs (the folder appears
    complete or not at all); returns the file names."""
    from tqdm import tqdm

    names = [f"{name}.png" for name in time_names(times)]
    frames = (io.tensor_to_image(f) for f in iter_interpolate(img0, img1, flow_fn, times, synthesis))
    with tqdm(frames, total=len(times), desc="interpolate", unit="frame", disable=not progress) as stream:
        write_frames(stream, Path(out), names)
    return names


# ----------------------------------------------------------------------------------------------- sequences
def interpolate_stream(frames: Iterator[tuple[Fraction, Fraction, np.ndarray]], flow_fn: FlowFn, fps_out: Fraction,
                       synthesis: Synthesis = warp_blend, dedup: bool = False) -> Iterator[np.ndarray]:
    """Resample timed frames ((time in seconds from the first frame, increasing; how long it shows; H x W x 3
    uint8), as ``video.timed_frames`` gives them) to ``fps_out``, holding two input frames at a time.

    Output frame k shows time k / ``fps_out``, for every k with that time before the end of the input (the last
    frame's time + how long it shows): the duration is kept, and an integer factor f gives n f frames. A time that
    falls on an input frame is that frame; one between two frames is made from them (their flows computed once);
    after the last frame, the last frame. ``dedup``: frames identical to the one before are dropped, so that the
    motion is spread over the time the repeats held (anime on twos, pulldown)."""
    k, count = 0, 0
    prev: torch.Tensor | None = None
    prev_frame = None
    prev_time = last_shows = Fraction(0)
    for time, shows, frame in frames:
        cur = io.image_to_tensor(frame)
        if prev is not None:
            if cur.shape != prev.shape:
                raise FlowNetError(f"frame {count} is {frame.shape[1]}x{frame.shape[0]}, the one before "
                                   f"{prev.shape[-1]}x{prev.shape[-2]}")
            if time <= prev_time:
                raise FlowNetError(f"frame {count} does not come after the one before it (time {float(time):.4f} s)")
            if dedup and is_same(prev, cur):
                count += 1
                continue
            flows = None
            while k / fps_out < time:  # output frames between the previous input frame and this one
                t = (k / fps_out - prev_time) / (time - prev_time)
                if t == 0:
                    yield prev_frame
                else:
                    flows = flows or pair_flows(prev, cur, flow_fn)
                    yield io.tensor_to_image(frame_at(prev, cur, flows, float(t), synthesis))
                k += 1
        prev, prev_frame, prev_time, last_shows, count = cur, frame, time, shows, count + 1
    if count < 2:
        raise FlowNetError("fewer than two frames")
    while k / fps_out < prev_time + last_shows:
        yield prev_frame
        k += 1


def check_rate(fps_out: Fraction, seconds: float | None, gif: bool, limits: tuple[float, float, float]) -> None:
    """A FlowNetError for an output above ``limits`` = (frames/s, frames/s of a GIF, hours): rates and lengths
    unlikely to be meant (GIF players hold each frame a whole 1/100 s: faster GIFs play slowed down)."""
    fps, gif_fps, hours = limits
    problem = (f"{float(fps_out):g} fps is above {fps:g} fps" if fps_out > fps else
               f"a GIF at {float(fps_out):g} fps plays slowed down (GIF frames last whole 1/100 s; above {gif_fps:g} "
               "fps players stretch them)" if gif and fps_out > gif_fps else
               f"the output would last {seconds / 3600:.1f} hours" if seconds and seconds > 3600 * hours else None)
    if problem:
        raise FlowNetError(f"{problem}: add --force if you mean it")


def interpolate_sequence(source: str | os.PathLike, out: str | os.PathLike, flow_fn: FlowFn,
                         factor: int | None = None, fps: Fraction | None = None, input_fps: Fraction | None = None,
                         crf: int | None = None, progress: bool = True,
                         say: Callable[[str], None] = lambda message: None, synthesis: Synthesis = warp_blend,
                         dedup: bool = False, limits: tuple[float, float, float] | None = None) -> int:
    """Raise the frame rate of a video (or a folder of frames, in name order, at ``input_fps``: default 25) by
    ``factor``, or resample it to ``fps``, keeping its duration and its frames' own times (variable frame rates);
    write a video (``flownet.video.ENCODERS``: quality ``crf``, the source's colours and audio kept) or a folder of
    PNG frames. ``dedup``: see ``interpolate_stream``; ``limits``: refuse what ``check_rate`` finds above them.
    ``say`` receives notes for the user (frame order, assumed frame rate, audio left out). Returns the number of frames
    written."""
    from tqdm import tqdm

    from . import video

    source, out = Path(source), Path(out)
    if not source.exists():
        raise FlowNetError("no such video or folder of frames", source)
    to_video = bool(out.suffix) and not out.is_dir()
    if to_video:
        video.check_output(out, crf)
    elif crf is not None:
        raise FlowNetError("--crf is for video output, not a folder of frames", out)
    if (factor is None) == (fps is None):
        raise FlowNetError("give either --factor or --fps")
    if input_fps is not None and input_fps <= 0:
        raise FlowNetError(f"--input-fps must be positive, got {float(input_fps):g}")
    info = None
    if source.is_dir():
        files = video.frame_files(source)
        fps_in = Fraction(25) if input_fps is None else Fraction(input_fps)
        seconds = len(files) / fps_in
        say(f"{len(files)} frames in name order, {files[0].name} to {files[-1].name}, at {float(fps_in):g} fps"
            + (" (the default for a folder: set it with --input-fps)" if input_fps is None else ""))
    else:
        video.check_video(source)
        info = video.probe(source)
        if info.fps is None or info.fps <= 0:
            raise FlowNetError("the video does not say its frame rate", source)
        if info.bits > 8:
            raise FlowNetError(f"a {info.bits}-bit video ({info.pix_fmt}): flownet makes 8-bit frames and would "
                               "drop the extra bits; convert it first (ffmpeg -i IN -pix_fmt yuv420p OUT)", source)
        if input_fps is not None:
            raise FlowNetError(f"--input-fps is for a folder of frames: the video says its rate "
                               f"({float(info.fps):g} fps)", source)
        fps_in, seconds = info.fps, info.duration
        if info.audio and (not to_video or out.suffix.lower() == ".gif"):
            say(f"{'GIF' if to_video else 'a folder of frames'} holds no sound: the audio track is left out")
    fps_out = fps_in * factor if factor is not None else Fraction(fps)
    if fps_out <= 0:
        raise FlowNetError("the output frame rate must be positive")
    if limits:
        check_rate(fps_out, seconds, to_video and out.suffix.lower() == ".gif", limits)
    expected = None if seconds is None else math.ceil(seconds * fps_out - 1e-6)
    frames = prefetched(video.timed_frames(source, fps_in))  # decoding, making frames and encoding overlap
    try:
        with tqdm(prefetched(interpolate_stream(frames, flow_fn, fps_out, synthesis, dedup)), total=expected,
                  desc="interpolate", unit="frame", disable=not progress) as stream:
            if not to_video:
                return write_frames(stream, out)
            audio = source if info is not None and info.audio else None
            return video.write_video(stream, out, fps_out, crf, like=info, audio_from=audio)
    except FlowNetError as e:
        if e.path is None:  # a problem of the stream: name the source
            raise FlowNetError(e.problem, source) from None
        raise


def write_frames(frames: Iterable[np.ndarray], out: Path, names: Sequence[str] | None = None) -> int:
    """Frames as out/00000.png, 00001.png, ... (or ``names``); the folder appears complete or not at all."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FlowNetError("output folder exists and is not empty", out)
    n = 0
    with atomic_folder(out) as tmp:
        for n, frame in enumerate(frames, 1):
            io.write_image(tmp / (names[n - 1] if names else f"{n - 1:05d}.png"), frame)
    return n
