"""Video files and folders of frames: reading frames with their times, probing a video (frame rate, colour, bit
depth, audio), writing one.

Videos are probed and decoded with PyAV (exact rates, each frame's presentation time, colour tags as the codec
reports them: better than reading ``ffmpeg -i``'s human text); they are written through the ffmpeg binary that
imageio-ffmpeg ships. Frames are H x W x 3 uint8 RGB arrays. Written
videos keep what the source declares where the container can: its pixel format's chroma layout, colour range and
colour space (RGB is converted back with the source's matrix and range), and its audio track, which is copied (or
re-encoded when the new container cannot hold it). Writers are atomic: the video appears complete or not at all.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import io
from .errors import FlowNetError
from .fileutil import atomic_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif")  # read as videos
# written: suffix -> video encoder; encoder -> (lowest, highest, default) CRF, where it has one
ENCODERS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9",
            ".gif": "gif"}
CRF = {"libx264": (0, 51, 18), "libvpx-vp9": (0, 63, 31)}
AUDIO_ENCODERS = {".webm": ["-c:a", "libopus", "-ar", "48000"]}  # when copying fails; others: aac
YUV_LAYOUTS = ("yuv420p", "yuv422p", "yuv444p")  # 8-bit chroma layouts kept from the source
# the scale filter's name of each colour space's RGB <-> YUV matrix
MATRICES = {"bt709": "bt709", "bt470bg": "bt470", "smpte170m": "smpte170m", "fcc": "fcc", "smpte240m": "smpte240m",
            "bt2020nc": "bt2020", "bt2020c": "bt2020"}


def ffmpeg_exe() -> str:
    """The path of imageio-ffmpeg's ffmpeg binary."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ----------------------------------------------------------------------------------------------- probing
@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream (None: not declared)."""

    fps: Fraction | None  # the average frame rate (a variable-rate video's frames carry their own times)
    duration: float | None  # seconds
    size: tuple[int, int]  # width, height as stored
    pix_fmt: str
    color_range: str | None = None  # "tv" (limited) or "pc" (full)
    colorspace: str | None = None
    color_primaries: str | None = None
    color_trc: str | None = None
    audio: str | None = None  # codec of the first audio stream
    bits: int = 8  # per colour component
    frame_count: int | None = None  # as the container counts them

    @property
    def frames(self) -> int | None:
        """The number of frames: the container's count, else estimated from the duration and the frame rate."""
        if self.frame_count:
            return self.frame_count
        return None if self.fps is None or self.duration is None else round(self.duration * self.fps)


# FFmpeg's names of its colour enumerations (libavutil/pixfmt.h), as ffmpeg's options take them
RANGES = {1: "tv", 2: "pc"}
SPACES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
          10: "bt2020c"}
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
             10: "smpte428", 11: "smpte431", 12: "smpte432"}
TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 13: "iec61966-2-1",
             14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67"}


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, duration, size, pixel format and bit depth, colour description and audio of a video file, as
    its container and codec declare them (PyAV)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise FlowNetError("no such video", path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FlowNetError("cannot read the video (no video stream in it)", path)
            stream = container.streams.video[0]
            cc = stream.codec_context
            seconds = (stream.duration * stream.time_base if stream.duration else
                       container.duration / 1e6 if container.duration else None)
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
            pix = cc.pix_fmt or "unknown"
            colour = {"color_range": RANGES.get(cc.color_range), "colorspace": SPACES.get(cc.colorspace),
                      "color_primaries": PRIMARIES.get(cc.color_primaries), "color_trc": TRANSFERS.get(cc.color_trc)}
            bits = max((c.bits for c in cc.format.components), default=8) if cc.format else 8
            rate = stream.average_rate or stream.guessed_rate
            size = (cc.width, cc.height)
            count = stream.frames or None
    except av.FFmpegError as e:
        raise FlowNetError(f"cannot read the video ({type(e).__name__})", path) from None
    if pix.startswith("yuvj"):  # the old name of full-range YUV
        pix, colour["color_range"] = "yuv" + pix[4:], "pc"
    return VideoInfo(fps=Fraction(rate) if rate else None, duration=None if seconds is None else float(seconds),
                     size=size, pix_fmt=pix, audio=audio, bits=bits, frame_count=count, **colour)


# ----------------------------------------------------------------------------------------------- reading
def frame_files(folder: Path) -> list[Path]:
    """The image files of a folder in name order."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in io.IMAGE_SUFFIXES)
    if len(files) < 2:
        raise FlowNetError(f"need at least two images ({', '.join(io.IMAGE_SUFFIXES)}), found {len(files)}", folder)
    return files


def iter_frames(source: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8) for each frame of a folder of images (name: the file's stem) or a video file
    (name: frame_00000, ...)."""
    if source.is_dir():
        for f in frame_files(source):
            yield f.stem, io.read_image(f)
        return
    for k, (_, _, frame) in enumerate(timed_frames(source)):
        yield f"frame_{k:05d}", frame


def timed_frames(source: Path, fps: Fraction | None = None) -> Iterator[tuple[Fraction, Fraction, np.ndarray]]:
    """(time in seconds from the first frame, how long it shows, H x W x 3 uint8 RGB) for each frame: a video's own
    presentation times and durations (variable frame rates included), or k / ``fps`` and 1 / ``fps`` for a folder
    of images (in name order)."""
    if source.is_dir():
        for k, f in enumerate(frame_files(source)):
            yield Fraction(k) / fps, 1 / Fraction(fps), io.read_image(f)
        return
    check_video(source)
    import av

    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            period = 1 / Fraction(stream.average_rate or stream.guessed_rate or 25)
            start = None
            for k, frame in enumerate(container.decode(stream)):
                pts = Fraction(frame.pts) * stream.time_base if frame.pts is not None else k * period
                start = pts if start is None else start
                shows = Fraction(frame.duration) * stream.time_base if frame.duration else period
                rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None,
                                       dst_color_range="JPEG")
                yield pts - start, shows, rgb
    except (av.FFmpegError, IndexError) as e:
        raise FlowNetError(f"cannot read the video ({type(e).__name__})", source) from None


def check_video(source: Path) -> None:
    """A FlowNetError unless ``source`` is a file with a video suffix."""
    if not source.is_file():
        raise FlowNetError("no such folder or video", source)
    if source.suffix.lower() not in VIDEO_SUFFIXES:
        raise FlowNetError(f"not a folder of frames or a video ({', '.join(VIDEO_SUFFIXES)})", source)


def count_frames(source: Path) -> int | None:
    """Frames in a folder, or (estimated from duration and rate) in a video; None when a video does not say."""
    if source.is_dir():
        return len(frame_files(source))
    check_video(source)
    return probe(source).frames


# ----------------------------------------------------------------------------------------------- writing
def check_output(out: str | os.PathLike, crf: int | None = None) -> str:
    """The encoder for a video written to ``out`` (by its suffix), after checking ``crf`` against it."""
    suffix = Path(out).suffix.lower()
    if suffix not in ENCODERS:
        raise FlowNetError(f"cannot write '{suffix}' videos (use {', '.join(ENCODERS)}, or a folder)", out)
    encoder = ENCODERS[suffix]
    if crf is not None:
        if encoder not in CRF:
            raise FlowNetError(f"--crf does not apply to '{suffix}' ({encoder} has no quality setting)", out)
        low, high, _ = CRF[encoder]
        if not low <= crf <= high:
            raise FlowNetError(f"--crf must be between {low} and {high} for '{suffix}' ({encoder}), got {crf}", out)
    return encoder


def write_video(frames: Iterable[np.ndarray], out: str | os.PathLike, fps: Fraction, crf: int | None = None,
                like: VideoInfo | None = None, audio_from: str | os.PathLike | None = None) -> int:
    """Write frames (H x W x 3 uint8) as a video at ``fps``, atomically; returns the frame count.

    The encoder follows the suffix (``ENCODERS``; ``crf``: its quality, lower is better, default ``CRF``'s). ``like``:
    keep this source's chroma layout, colour range and colour space. ``audio_from``: a file whose audio streams are
    copied into the output (none for GIF)."""
    out = Path(out)
    encoder = check_output(out, crf)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise FlowNetError("no frames to write", out)
    h, w = first.shape[:2]
    args = encoder_args(encoder, crf, like, (w, h))
    with atomic_path(out) as tmp:
        if audio_from is None or encoder == "gif":
            return _encode(first, frames, tmp, fps, args)
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=tmp.parent) as folder:
            stream = Path(folder) / f"video{out.suffix}"
            n = _encode(first, frames, stream, fps, args)
            mux_audio(stream, Path(audio_from), tmp)
        return n


def encoder_args(encoder: str, crf: int | None, like: VideoInfo | None, size: tuple[int, int]) -> list[str]:
    """ffmpeg output options: encoder, quality, and the filter from RGB to the (source's) pixel format and colours."""
    if encoder == "gif":  # one palette made for the whole clip
        return ["-c:v", "gif", "-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse"]
    args = ["-c:v", encoder, "-crf", str(CRF[encoder][2] if crf is None else crf)]
    if encoder == "libvpx-vp9":
        args += ["-b:v", "0", "-row-mt", "1"]
    pix = next((p for p in YUV_LAYOUTS if like and like.pix_fmt.startswith(p[:6])), "yuv420p")
    scale = []
    if pix != "yuv444p" and (size[0] % 2 or (pix == "yuv420p" and size[1] % 2)):  # chroma needs even sizes
        scale += ["w=ceil(iw/2)*2", "h=ceil(ih/2)*2" if pix == "yuv420p" else "h=ih"]
    params = []
    if like and like.colorspace in MATRICES:
        scale.append(f"out_color_matrix={MATRICES[like.colorspace]}")
        params.append(f"colorspace={like.colorspace}")
    if like and like.color_range:
        scale.append(f"out_range={like.color_range}")
        params.append(f"range={like.color_range}")
    for key in ("color_primaries", "color_trc"):
        if like and getattr(like, key):
            params.append(f"{key}={getattr(like, key)}")
    chain = ([f"scale={':'.join(scale)}"] if scale else []) + ([f"setparams={':'.join(params)}"] if params else [])
    return args + ["-pix_fmt", pix] + (["-vf", ",".join(chain)] if chain else [])


def _encode(first: np.ndarray, rest: Iterator[np.ndarray], path: Path, fps: Fraction, args: list[str]) -> int:
    """Pipe raw RGB frames to ffmpeg; a FlowNetError with ffmpeg's last message if it fails."""
    h, w = first.shape[:2]
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-an", *args, str(path)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)  # Ctrl-C reaches us, not ffmpeg
        n = 0
        try:
            for frame in _chain(first, rest):
                if frame.shape != first.shape:
                    raise FlowNetError(f"frame {n} is {frame.shape[1]}x{frame.shape[0]}, the first {w}x{h}")
                proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
                n += 1
            proc.stdin.close()
            code = proc.wait()
        except BrokenPipeError:
            code = proc.wait()
        finally:
            if proc.poll() is None:  # stopped by an error or Ctrl-C in the frames' producer
                proc.kill()
                proc.wait()
        if code != 0:
            raise FlowNetError(f"ffmpeg could not write the video: {_last_line(log)}", path)
    return n


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _last_line(log) -> str:
    log.seek(0)
    lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def mux_audio(video: Path, source: Path, out: Path) -> None:
    """Write ``video``'s stream and ``source``'s audio streams into ``out``: the audio copied as it is, or
    re-encoded (AAC; Opus in WebM) when the container cannot hold its codec."""
    base = [ffmpeg_exe(), "-y", "-v", "error", "-i", str(video), "-i", str(source), "-map", "0:v:0", "-map", "1:a",
            "-c:v", "copy"]
    reencode = AUDIO_ENCODERS.get(out.suffix.lower(), ["-c:a", "aac"])
    for audio in (["-c:a", "copy"], reencode):
        result = subprocess.run([*base, *audio, str(out)], capture_output=True, text=True, errors="replace",
                                stdin=subprocess.DEVNULL)
        if result.returncode == 0:
            return
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    raise FlowNetError(f"ffmpeg could not add the audio track: {lines[-1] if lines else 'no message'}", out)
