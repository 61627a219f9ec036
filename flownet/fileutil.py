"""Atomic writing: a file (or a folder of files) is written under a temporary name beside the target, then renamed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import FlowNetError


def _default_mode(folder: bool) -> int:
    """The permissions a plain open() or mkdir() would give under the current umask (temporary files and folders
    are created private, 0600 / 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temp name keeps the target's suffix (so writers that pick a format by extension work).
    On any error the temp file is removed and nothing is left at ``path``.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FlowNetError("output folder does not exist", folder)
    if target.is_dir():
        raise FlowNetError("output path is a folder, not a file", target)
    suffix = target.suffix if suffix is None else suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=folder)
    except OSError as e:
        raise FlowNetError(f"cannot write here ({e.strerror})", target) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            os.chmod(tmp_path, _default_mode(folder=False))
            os.replace(tmp_path, target)
        except OSError as e:
            raise FlowNetError(f"cannot write here ({e.strerror})", target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; if the block succeeds its files move into ``path`` (which is
    created, or else gains them, same names replaced); on any error nothing is left behind."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.exists() and not target.is_dir():
        raise FlowNetError("output must be a folder", target)
    if not parent.is_dir():
        raise FlowNetError("output folder's parent does not exist", parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise FlowNetError(f"cannot write here ({e.strerror})", target) from None
    try:
        yield tmp
        if target.exists():
            for f in sorted(tmp.iterdir()):
                os.replace(f, target / f.name)
        else:
            os.chmod(tmp, _default_mode(folder=True))
            os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | os.PathLike, obj: dict) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
