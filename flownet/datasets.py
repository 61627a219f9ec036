"""Datasets on disk: the files that make up each pair of Flying Chairs, Middlebury, MPI-Sintel, KITTI 2015 and
pair-list layouts, format detection, the one seeded train / val split, and reading a pair into a sample.

Training (``flownet.data``) and evaluation (``flownet.evaluate``) both build on this module; it imports neither.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from . import io
from .errors import FlowNetError
from .types import Sample

SPLIT_FILE = "FlyingChairs_train_val.txt"
SPLIT_SEED = 42
TRAIN_FRACTION = 0.8
T = TypeVar("T")


def seeded_split(items: list[T], split: str) -> list[T]:
    """``split`` of ``items`` ('train', 'val' or 'all'): a random 0.8 / 0.2 split seeded with 42, the same on every
    machine for the same number of items; items keep their order."""
    if split == "all":
        return list(items)
    if split not in ("train", "val"):
        raise FlowNetError(f"unknown split '{split}' (use train, val or all)")
    order = list(range(len(items)))
    random.Random(SPLIT_SEED).shuffle(order)
    n_train = round(TRAIN_FRACTION * len(order))
    chosen = set(order[:n_train] if split == "train" else order[n_train:])
    return [item for i, item in enumerate(items) if i in chosen]


# ----------------------------------------------------------------------------------------------- Flying Chairs
def chairs_ids(root: str | os.PathLike) -> list[str]:
    """Sorted ids of the ``<id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo`` triplets in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FlowNetError("no such folder", root)
    ids = sorted(p.name[: -len("_img1.ppm")] for p in root.glob("*_img1.ppm"))
    if not ids:
        raise FlowNetError("no Flying Chairs pairs (<id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo) in this folder", root)
    for i in ids:
        for part in ("img2.ppm", "flow.flo"):
            if not (root / f"{i}_{part}").is_file():
                raise FlowNetError(f"pair {i} has no {i}_{part}", root / f"{i}_img1.ppm")
    return ids


def chairs_split(root: str | os.PathLike, ids: list[str], split: str) -> list[str]:
    """The ids of ``split`` ('train', 'val' or 'all').

    Uses the official ``FlyingChairs_train_val.txt`` (one line per pair in id order: 1 = train, 2 = val) when the
    folder has it, else ``seeded_split``.
    """
    split_file = Path(root) / SPLIT_FILE
    if split in ("train", "val") and split_file.is_file():
        marks = split_file.read_text().split()
        if len(marks) != len(ids) or set(marks) - {"1", "2"}:
            raise FlowNetError(f"expected {len(ids)} lines of 1 or 2 (one per pair), found {len(marks)}", split_file)
        wanted = "1" if split == "train" else "2"
        return [i for i, m in zip(ids, marks) if m == wanted]
    return seeded_split(ids, split)


def load_pair(img1: str | os.PathLike, img2: str | os.PathLike, flow: str | os.PathLike | None = None) -> Sample:
    """Read a pair (and its ground truth, if given) into a sample dict; sizes must agree."""
    a, b = io.read_pair(img1, img2)
    sample = {"img1": io.image_to_tensor(a)[0], "img2": io.image_to_tensor(b)[0]}
    if flow is not None:
        f, valid = io.read_flow(flow)
        if f.shape[:2] != a.shape[:2]:
            raise FlowNetError(f"flow is {f.shape[1]}x{f.shape[0]} but the images are {a.shape[1]}x{a.shape[0]}", flow)
        sample["flow"] = io.flow_to_tensor(f)[0]  # read_flow holds 0 at invalid pixels
        sample["valid"] = torch.from_numpy(valid)
    return sample



# ----------------------------------------------------------------------------------------------- all layouts
@dataclass(frozen=True)
class PairFiles:
    """The files of one pair."""

    name: str
    img1: Path
    img2: Path
    flow: Path | None = None  # None: no ground truth (a list file without a third column)
    group: str = ""  # the scene or sequence (a Sintel scene, a chain of consecutive pairs in a list); "" = its own

    @property
    def scene(self) -> str:
        return self.group or self.name


def split_pairs(pairs: list[PairFiles], split: str) -> list[PairFiles]:
    """``split`` of ``pairs`` ('train', 'val' or 'all') made whole scenes at a time (``seeded_split`` of their
    scenes), so that neighbouring frames of a sequence never land on both sides."""
    chosen = set(seeded_split(sorted({p.scene for p in pairs}), split))
    return [p for p in pairs if p.scene in chosen]


FORMATS = ("chairs", "middlebury", "sintel", "sintel-final", "kitti", "list")


def _training_dir(root: Path, *needed: str) -> Path | None:
    """``root`` or ``root/training`` when it holds all of ``needed`` sub-folders (Sintel, KITTI layouts)."""
    for base in (root, root / "training"):
        if all((base / n).is_dir() for n in needed):
            return base
    return None


def detect_format(root: Path) -> str:
    """The layout of ``root``: a list file ('list'), or a folder of Flying Chairs triplets ('chairs'), Middlebury
    sequences ('middlebury'), MPI-Sintel ('sintel', the clean pass) or KITTI 2015 ('kitti'); an error when none or
    more than one fits."""
    if root.is_file():
        return "list"
    found = [name for name, hit in (
        ("chairs", lambda: any(root.glob("*_img1.ppm"))),
        ("middlebury", lambda: any(root.glob("*/flow10.flo"))),
        ("sintel", lambda: _training_dir(root, "clean", "flow") or _training_dir(root, "final", "flow")),
        ("kitti", lambda: _training_dir(root, "image_2", "flow_occ")),
    ) if hit()]
    if len(found) == 1:
        return found[0]
    if found:
        raise FlowNetError(f"looks like more than one dataset ({', '.join(found)}): choose with --format", root)
    raise FlowNetError("found no known dataset layout (Flying Chairs <id>_img1.ppm, Middlebury <Seq>/flow10.flo, "
                       "Sintel training/clean + training/flow, KITTI training/image_2 + training/flow_occ)", root)


def dataset_pairs(root: str | os.PathLike, split: str = "val", fmt: str = "auto") -> list[PairFiles]:
    """The pairs of a dataset folder (or list file). Only Flying Chairs has a split (``split``); the other layouts
    give every pair that has ground truth (Sintel and KITTI: their training sets)."""
    root = Path(root)
    if not root.exists():
        raise FlowNetError("no such folder or list file", root)
    fmt = detect_format(root) if fmt == "auto" else fmt
    if fmt == "list":
        return read_pair_list(root)
    if not root.is_dir():
        raise FlowNetError("no such folder", root)
    if fmt == "chairs":
        ids = chairs_split(root, chairs_ids(root), split)
        return [PairFiles(i, root / f"{i}_img1.ppm", root / f"{i}_img2.ppm", root / f"{i}_flow.flo") for i in ids]
    if fmt == "middlebury":
        seqs = sorted(p.parent for p in root.glob("*/flow10.flo"))
        if not seqs:
            raise FlowNetError("no Middlebury sequences (<Seq>/frame10.png, frame11.png, flow10.flo)", root)
        return [PairFiles(s.name, s / "frame10.png", s / "frame11.png", s / "flow10.flo") for s in seqs]
    if fmt in ("sintel", "sintel-final"):
        return sintel_pairs(root, "final" if fmt == "sintel-final" else "clean")
    if fmt == "kitti":
        return kitti_pairs(root)
    raise FlowNetError(f"unknown dataset format '{fmt}' (use {', '.join(FORMATS)} or auto)")


def sintel_pairs(root: Path, dstype: str = "clean") -> list[PairFiles]:
    """MPI-Sintel training: ``<pass>/<scene>/frame_XXXX.png`` with ``flow/<scene>/frame_XXXX.flo`` (frame i to i+1).
    ``root`` is the Sintel folder or its ``training`` folder."""
    base = _training_dir(root, dstype, "flow")
    if base is None:
        raise FlowNetError(f"not an MPI-Sintel folder (no training/{dstype} and training/flow)", root)
    pairs = []
    for flo in sorted(base.glob("flow/*/frame_*.flo")):
        scene, stem = flo.parent.name, flo.stem
        try:
            k = int(stem.split("_")[1])
        except (IndexError, ValueError):
            raise FlowNetError("flow file name is not frame_NNNN.flo", flo) from None
        img1 = base / dstype / scene / f"{stem}.png"
        img2 = base / dstype / scene / f"frame_{k + 1:0{len(stem) - 6}d}.png"
        pairs.append(PairFiles(f"{scene}/{stem}", img1, img2, flo, group=scene))
    if not pairs:
        raise FlowNetError("no flow files (training/flow/<scene>/frame_XXXX.flo)", base)
    return pairs


def kitti_pairs(root: Path) -> list[PairFiles]:
    """KITTI 2015 training: ``image_2/<id>_10.png``, ``<id>_11.png`` and ``flow_occ/<id>_10.png`` (16-bit flow
    with a valid mask). ``root`` is the KITTI folder or its ``training`` folder."""
    base = _training_dir(root, "image_2", "flow_occ")
    if base is None:
        raise FlowNetError("not a KITTI 2015 folder (no training/image_2 and training/flow_occ)", root)
    pairs = [PairFiles(f.stem[:-3], base / "image_2" / f.name, base / "image_2" / f"{f.stem[:-3]}_11.png", f)
             for f in sorted((base / "flow_occ").glob("*_10.png"))]
    if not pairs:
        raise FlowNetError("no flow files (training/flow_occ/<id>_10.png)", base)
    return pairs


def read_pair_list(path: Path) -> list[PairFiles]:
    """A text file of ``img1 img2 [flow]`` lines, paths relative to the file; blank lines and ``#`` comments
    are skipped."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise FlowNetError(f"cannot read the pair list ({type(e).__name__})", path) from None
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise FlowNetError(f"line {n}: expected 'img1 img2 [flow]', found {len(parts)} fields", path)
        files = [path.parent / p for p in parts]
        for name, f in zip(parts, files):
            if not f.is_file():
                raise FlowNetError(f"line {n}: no such file '{name}' (paths are relative to the list file)", path)
        chained = pairs and pairs[-1].img2 == files[0]  # frames of one sequence: img2 of a pair is img1 of the next
        pairs.append(PairFiles(f"{n:05d}_{Path(parts[0]).stem}", files[0], files[1], files[2] if len(files) > 2 else None,
                               group=pairs[-1].scene if chained else f"{n:05d}"))
    if not pairs:
        raise FlowNetError("the pair list is empty", path)
    return pairs
