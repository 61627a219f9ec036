"""The one error type for everything a user can cause (bad files, bad arguments)."""

from __future__ import annotations

import os


class FlowNetError(Exception):
    """A problem with user input; the CLI prints it as one line and exits with status 2.

    ``path`` names the file concerned (if any) and is put in front of the message.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)
