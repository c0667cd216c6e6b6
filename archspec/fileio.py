"""Atomic file writing: a user's file is either the old one or the complete new one.

Every file archspec writes goes through `atomic_path` (or the helpers on top of it) and gets
the mode a new file gets from the user's umask (0o666 & ~umask, and any default ACL), like a
file written with `open(path, "w")`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator


def _new_file(directory: Path, prefix: str, suffix: str) -> tuple[Path, int]:
    """Create an empty file with a fresh name; returns it and the mode it was given.

    Unlike mkstemp (always 0o600) the file is created with 0o666 and the kernel applies the
    umask: nothing reads or sets the process-wide umask, which another thread may be using.
    """
    for _ in range(100):
        path = directory / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            mode = os.fstat(fd).st_mode & 0o7777
        finally:
            os.close(fd)
        return path, mode
    raise FileExistsError(f"no free temporary name in {directory}")


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds.

    `suffix` keeps the extension for libraries that insist on one (Keras's `.keras`). A
    library may write the temporary path by replacing it with a file of its own (safetensors'
    save_file does, with mode 0o600): the new file's mode is put back before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, mode = _new_file(path.parent, f".{path.name}.", suffix or ".tmp")
    try:
        yield tmp
        if os.stat(tmp).st_mode & 0o7777 != mode:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
