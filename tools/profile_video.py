"""Where the time of a x2 video job goes, stage by stage, on one pair of frames of a clip (default: the shared
1280x720 cockatoo clip): decoding, the flows both ways (each preset's flow, at its size), the consistency masks,
one made frame by each synthesis, encoding. Prints a Markdown table (docs/performance.md).

    python tools/profile_video.py [CLIP] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flownet import io  # noqa: E402
from flownet.bench import SAMPLE_CLIP, machine, timed  # noqa: E402
from flownet.interpolate import frame_at, pair_flows  # noqa: E402
from flownet.presets import preset  # noqa: E402
from flownet.video import timed_frames, write_video  # noqa: E402


def seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one untimed call."""
    return timed(fn, repeats, warmup=1)["median_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", nargs="?", type=Path, default=SAMPLE_CLIP)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    frames = iter(timed_frames(args.clip))

    def decode_two():
        return [next(frames)[2] for _ in range(2)]

    decode = seconds(decode_two, args.repeats) / 2
    a, b = decode_two()
    img0, img1 = io.image_to_tensor(a), io.image_to_tensor(b)
    m = machine(torch.get_num_threads(), sys.argv, torch.device("cpu"))
    print(f"{args.clip.name}, {a.shape[1]}x{a.shape[0]}; {m['cpu']} ({m['isa']}), {m['threads']} threads, "
          f"torch {m['torch']}\n")
    print("| stage | seconds |\n|---|---|")
    print(f"| decode one frame (PyAV) | {decode:.3f} |")
    flows = pair_flows(img0, img1, preset("fast")[0])  # what the made frames below start from
    for quality in ("fast", "best"):
        flow_fn, _ = preset(quality)
        label = "DIS medium at half size" if quality == "fast" else "FlowNetS + fuse at full size"
        print(f"| flows both ways, {label} (--quality {quality}), with the masks | "
              f"{seconds(lambda: pair_flows(img0, img1, flow_fn), args.repeats):.3f} |")
    for quality, name in (("fast", "warp"), ("balanced", "learned")):
        _, synthesis = preset(quality)
        print(f"| one made frame from the fast preset's flows, {name} synthesis (fallback included) | "
              f"{seconds(lambda: frame_at(img0, img1, flows, 0.5, synthesis), args.repeats):.3f} |")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o.mp4"
        many = [a, b] * 10
        print(f"| encode one frame (H.264, CRF 18) | "
              f"{seconds(lambda: write_video(iter(many), out, Fraction(40)), 1) / len(many):.3f} |")


if __name__ == "__main__":
    main()
