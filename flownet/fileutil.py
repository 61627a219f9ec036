"""Atomic file writing: write to a temp file in the target folder, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import FlowNetError


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
            os.replace(tmp_path, target)
        except OSError as e:
            raise FlowNetError(f"cannot write here ({e.strerror})", target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
