"""Video as users expect: audio kept, colour range kept, a quality setting, GIF/WebM/MKV, folders of frames.

Inputs are made by ffmpeg's own generators (lavfi testsrc / sine), and outputs are checked by decoding them with the
ffmpeg binary and by reading ``ffmpeg -i``'s text here: not with our reader or our probe.
"""

import math
import re
import subprocess
import sys
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest

from flownet import io, video
from flownet.errors import FlowNetError
from flownet.evaluate import zero_flow_fn
from flownet.interpolate import interpolate_sequence

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
RATE = 16000  # audio sample rate of the test clips


def ffmpeg(*args) -> bytes:
    return subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], capture_output=True, check=True).stdout


def ffmpeg_says(path) -> str:
    """The stream lines of ``ffmpeg -i path``."""
    text = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return "\n".join(line for line in text.splitlines() if "Stream #" in line)


def decoded_audio(path) -> np.ndarray:
    """The audio track as mono float samples at RATE, decoded by ffmpeg."""
    raw = ffmpeg("-i", path, "-vn", "-ac", 1, "-ar", RATE, "-f", "s16le", "-")
    return np.frombuffer(raw, "<i2").astype(np.float64) / 32768


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[spectrum.argmax()])


def decoded_frames(path, size=(64, 48)) -> np.ndarray:
    """All frames as N x H x W x 3 uint8, decoded by ffmpeg to RGB."""
    raw = ffmpeg("-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    w, h = size
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def tone_clip(path, seconds=1.0, hz=440):
    """10 fps test pattern, 64x48, with a sine tone (AAC)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={seconds}", "-f", "lavfi", "-i",
           f"sine=frequency={hz}:sample_rate={RATE}:duration={seconds}", "-pix_fmt", "yuv420p", "-c:a", "aac", path)
    return path


def test_interpolate_keeps_the_audio_track(tmp_path):
    """`flownet interpolate IN.mp4 --factor 2 -o OUT.mp4` (the command, its defaults): the output's audio
    decodes to the same tone for the same time, and the video has 2 n frames at twice the rate (its duration)."""
    src = tone_clip(tmp_path / "in.mp4")
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "interpolate", src, "--factor", "2", "-o",
                        tmp_path / "out.mp4", "--device", "cpu"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    before, after = decoded_audio(src), decoded_audio(tmp_path / "out.mp4")
    assert abs(len(after) - len(before)) / RATE < 0.03 and abs(len(after) / RATE - 1.0) < 0.05
    assert dominant_frequency(before) == pytest.approx(440, abs=2)
    assert dominant_frequency(after) == pytest.approx(440, abs=2)
    assert len(decoded_frames(tmp_path / "out.mp4")) == 20
    assert re.search(r"Video: h264.*, 20 fps", ffmpeg_says(tmp_path / "out.mp4"))


def test_audio_is_reencoded_where_the_container_needs_it(tmp_path):
    """AAC cannot go into WebM: the tone comes out as Opus, same pitch and length."""
    src = tone_clip(tmp_path / "in.mp4", hz=1000)
    interpolate_sequence(src, tmp_path / "out.webm", zero_flow_fn, factor=2, progress=False)
    assert re.search(r"Audio: opus", ffmpeg_says(tmp_path / "out.webm"))
    after = decoded_audio(tmp_path / "out.webm")
    assert dominant_frequency(after) == pytest.approx(1000, abs=2) and abs(len(after) / RATE - 1.0) < 0.05


@pytest.mark.parametrize("pix_fmt, out_range, matrix", [("yuv444p", "pc", "bt709"), ("yuv420p", "tv", "bt470bg")])
def test_colour_range_and_space_are_kept(tmp_path, pix_fmt, out_range, matrix):
    """The source's declared chroma layout, range and matrix are declared by the output, and its pixels decode to
    the same colours (so the declaration tells the truth: a full-range label on limited-range data would not)."""
    src = tmp_path / "in.mkv"
    scale_matrix = {"bt709": "bt709", "bt470bg": "bt470"}[matrix]
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5", "-c:v", "libx264", "-crf", 0,
           "-pix_fmt", pix_fmt, "-vf", f"scale=out_color_matrix={scale_matrix}:out_range={out_range},"
           f"setparams=range={out_range}:colorspace={matrix}", src)
    declared = re.escape(f"({out_range}, {matrix}")
    assert re.search(declared, ffmpeg_says(src))
    interpolate_sequence(src, tmp_path / "out.mp4", zero_flow_fn, factor=2, crf=0, progress=False)
    says = ffmpeg_says(tmp_path / "out.mp4")
    assert re.search(rf"yuvj?{pix_fmt[3:]}{declared}", says), says
    first_in, first_out = decoded_frames(src)[0], decoded_frames(tmp_path / "out.mp4")[0]  # t = 0: a copy
    chroma_blur = 0.5 if pix_fmt == "yuv444p" else 2.5  # 4:2:0 subsampled twice blurs the pattern's colour edges
    assert np.abs(first_in.astype(int) - first_out.astype(int)).mean() < chroma_blur


def frames_folder(path, n=5):
    path.mkdir()
    y, x = np.mgrid[0:48, 0:64]
    for k in range(n):
        img = np.stack([(x * 4 + 10 * k) % 256, (y * 5) % 256, np.full_like(x, 60 * k % 256)], -1)
        io.write_image(path / f"{chr(ord('a') + k)}.png", img.astype(np.uint8))
    return path


@pytest.mark.parametrize("suffix, codec", [(".gif", "gif"), (".webm", "vp9"), (".mkv", "h264"), (".mov", "h264")])
def test_folder_of_frames_to_each_container(tmp_path, suffix, codec):
    notes = []
    n = interpolate_sequence(frames_folder(tmp_path / "f"), tmp_path / f"out{suffix}", zero_flow_fn, factor=2,
                             input_fps=10, progress=False, say=notes.append)
    assert n == 10 and len(decoded_frames(tmp_path / f"out{suffix}")) == 10
    assert re.search(rf"Video: {codec}.*, 20 fps", ffmpeg_says(tmp_path / f"out{suffix}"))
    assert notes == ["5 frames in name order, a.png to e.png, at 10 fps"]


def test_folder_rate_defaults_to_25_and_says_so(tmp_path):
    notes = []
    interpolate_sequence(frames_folder(tmp_path / "f"), tmp_path / "out.mkv", zero_flow_fn, factor=3,
                         progress=False, say=notes.append)
    assert re.search(r", 75 fps", ffmpeg_says(tmp_path / "out.mkv"))
    assert "25 fps (the default for a folder: set it with --input-fps)" in notes[0]


def test_crf_sets_the_quality(tmp_path):
    """CRF 0 is lossless in the luma plane (decoded frames within RGB rounding of the input); CRF 45 is far
    smaller and worse."""
    src = frames_folder(tmp_path / "f")
    for crf in (0, 45):
        interpolate_sequence(src, tmp_path / f"q{crf}.mkv", zero_flow_fn, factor=2, crf=crf, progress=False)
    first = io.read_image(src / "a.png").astype(int)
    error = {crf: np.abs(decoded_frames(tmp_path / f"q{crf}.mkv")[0].astype(int) - first).mean() for crf in (0, 45)}
    assert error[0] < 3 < error[45]
    assert (tmp_path / "q45.mkv").stat().st_size < (tmp_path / "q0.mkv").stat().st_size / 2


@pytest.mark.parametrize("out, crf, words", [("out.flv", None, "cannot write '.flv' videos"),
                                              ("out.mp4", 52, "--crf must be between 0 and 51"),
                                              ("out.gif", 20, "--crf does not apply to '.gif'")])
def test_unwritable_outputs_are_refused_by_name(tmp_path, out, crf, words):
    with pytest.raises(FlowNetError, match=re.escape(words)):
        interpolate_sequence(frames_folder(tmp_path / "f"), tmp_path / out, zero_flow_fn, factor=2, crf=crf,
                             progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_cli_refuses_an_unknown_container_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "interpolate", frames_folder(tmp_path / "f"), "-o",
                        tmp_path / "out.flv", "--device", "cpu"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"flownet: error: {tmp_path / 'out.flv'}: cannot write '.flv' videos "
                                             "(use .mp4, .m4v, .mov, .mkv, .webm, .gif, or a folder)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_input_fps_with_a_video_is_an_error(tmp_path):
    with pytest.raises(FlowNetError, match="--input-fps is for a folder of frames"):
        interpolate_sequence(tone_clip(tmp_path / "in.mp4"), tmp_path / "out.mp4", zero_flow_fn, factor=2,
                             input_fps=30, progress=False)


def test_interrupted_writing_leaves_nothing(tmp_path):
    def frames():
        yield np.zeros((48, 64, 3), np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        video.write_video(frames(), tmp_path / "out.mp4", Fraction(10), audio_from=tone_clip(tmp_path / "in.mp4"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_probe_reads_what_the_file_declares(tmp_path):
    """A clip written by ffmpeg with known tags: full-range BT.601 (yuvj420p), 30000/1001 fps, AAC audio."""
    path = tmp_path / "tagged.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=30000/1001:duration=1", "-f", "lavfi", "-i",
           f"sine=frequency=440:sample_rate={RATE}:duration=1", "-pix_fmt", "yuvj420p", "-colorspace", "bt470bg",
           "-c:a", "aac", path)
    info = video.probe(path)
    assert info.size == (64, 48) and info.pix_fmt == "yuv420p" and info.color_range == "pc" and info.bits == 8
    assert info.colorspace == "bt470bg" and info.audio == "aac"
    assert info.fps == Fraction(30000, 1001) and info.frames == 30
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-pix_fmt", "yuv420p10le", "-c:v", "libx264",
           tmp_path / "ten.mp4")
    assert video.probe(tmp_path / "ten.mp4").bits == 10


def duration_of(path) -> float:
    """The duration ffmpeg prints for a file (not our probe)."""
    text = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_variable_frame_rate_input_keeps_its_duration(tmp_path):
    """10 frames at 0 ... 0.4 s and 1.0 ... 1.4 s (a 0.5 s gap): x2 is placed at the frames' own times and lasts
    1.5 s. Catches resampling by frame index at the average rate (the old output of such an input was too long)."""
    src = tmp_path / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-vf", "setpts='PTS+gte(N,5)*0.5/TB'",
           "-fps_mode", "vfr", "-pix_fmt", "yuv420p", src)
    assert duration_of(src) == pytest.approx(1.5, abs=0.02)
    n = interpolate_sequence(src, tmp_path / "out.mp4", zero_flow_fn, factor=2, progress=False)
    fps_out = 2 * video.probe(src).fps
    assert n == math.ceil(1.5 * fps_out - 1e-6)
    assert duration_of(tmp_path / "out.mp4") == pytest.approx(1.5, abs=1 / float(fps_out) + 0.01)


def test_ntsc_rate_gives_the_exact_count_and_duration(tmp_path):
    """--fps 60000/1001 from 2 s at 25 fps: ceil(2 x 60000/1001) = 120 frames, written at exactly 60000/1001."""
    src = tone_clip(tmp_path / "in.mp4", seconds=2.0)
    r = flownet_cli("interpolate", src, "--fps", "60000/1001", "--flow", "dis-fast", "--synthesis", "warp", "-o",
                    tmp_path / "out.mp4")
    assert r.returncode == 0, r.stderr
    assert len(decoded_frames(tmp_path / "out.mp4")) == 120
    assert re.search(r"59\.94 fps", ffmpeg_says(tmp_path / "out.mp4"))
    assert duration_of(tmp_path / "out.mp4") == pytest.approx(2.0, abs=0.03)


@pytest.mark.parametrize("args, said", [([], "quality fast: dis-medium flow at the size flow_scale picks, warp"),
                                        (["--quality", "fast"], "quality fast: dis-medium flow"),
                                        (["--quality", "fast", "--flow-scale", "0.5", "--synthesis", "learned"],
                                         "quality fast: dis-medium flow at 0.5 x the frames' size, learned"),
                                        (["--threads", "1"], "compute threads: 1")])
def test_quality_presets_say_what_ran(tmp_path, args, said):
    src = tone_clip(tmp_path / "in.mp4", seconds=0.5)
    r = flownet_cli("interpolate", src, "-o", tmp_path / "out.mp4", *args)
    assert r.returncode == 0 and said in r.stdout, r.stderr


def test_ten_bit_video_is_refused_in_one_line(tmp_path):
    src = tmp_path / "ten.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-pix_fmt", "yuv420p10le", "-c:v", "libx264",
           src)
    r = flownet_cli("interpolate", src, "--factor", "2", "-o", tmp_path / "out.mp4", "--flow", "dis-fast")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "10-bit" in r.stderr, r.stderr
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("args, words", [(["--fps", "100000"], "above 240 fps"),
                                         (["--fps", "60", "-o", "out.gif"], "GIF at 60 fps")])
def test_absurd_rates_need_force(tmp_path, args, words):
    src = tone_clip(tmp_path / "in.mp4")
    out = [] if "-o" in args else ["-o", "out.mp4"]
    r = subprocess.run([sys.executable, "-m", "flownet.cli", "interpolate", src, *args, *out, "--flow", "dis-fast"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and words in r.stderr and "--force" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def flownet_cli(*args):
    return subprocess.run([sys.executable, "-m", "flownet.cli", *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("args, words", [(["--frames", 1001], "--frames 1001 makes 1001 frames per pair (over 1000): "
                                                               "add --force"),
                                         (["--factor", 1], "argument --factor: must be at least 2, got 1"),
                                         (["--factor", 2, "--input-fps", -5],
                                          "argument --input-fps: must be above 0, got -5")])
def test_cli_refuses_silly_frame_counts_in_one_line(tmp_path, args, words):
    folder = frames_folder(tmp_path / "f")
    second = [folder / "b.png"] if "--frames" in args else []
    r = flownet_cli("interpolate", folder / "a.png" if second else folder, *second, "-o", tmp_path / "out", *args,
                    "--device", "cpu")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_cli_flow_choice_is_the_flow_used(tmp_path):
    """--flow dis-fast on a folder gives exactly the frames of warping along OpenCV's DIS-fast flow."""
    from flownet.classical import classical_flow_fn

    folder = frames_folder(tmp_path / "f", n=3)
    r = flownet_cli("interpolate", folder, "--factor", 2, "--flow", "dis-fast", "--synthesis", "warp", "-o",
                    tmp_path / "cli")
    assert r.returncode == 0, r.stderr
    assert "3 frames in name order, a.png to c.png, at 25 fps (the default" in r.stderr
    interpolate_sequence(folder, tmp_path / "lib", classical_flow_fn("dis-fast"), factor=2, progress=False)
    names = sorted(p.name for p in (tmp_path / "lib").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "cli").iterdir()) and len(names) == 6
    for name in names:
        assert np.array_equal(io.read_image(tmp_path / "cli" / name), io.read_image(tmp_path / "lib" / name))
