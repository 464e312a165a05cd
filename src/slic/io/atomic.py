"""Atomic writes: every output (image, .slic, JSON, checkpoint, model card) goes to a temporary file
in the destination's directory and is renamed into place, so a failure never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import InputError


def check_output_path(path: str | os.PathLike) -> Path:
    """`path` as an output: a new name or an existing regular file. A symlink, device node, FIFO,
    socket or directory is refused (a rename would replace it — e.g. /dev/full — rather than write
    into it; and following symlinks in a shared directory invites symlink attacks)."""
    path = Path(path)
    if path.is_symlink():
        raise InputError(f"{path}: is a symbolic link; refusing to replace it (write to the target's path)")
    if path.exists() and not path.is_file():
        raise InputError(f"{path}: not a regular file; refusing to replace it")
    return path


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call write(tmp_path) then rename onto `path`: never leaves a half-written output.
    Only new paths and regular files are written (`check_output_path`)."""
    path = check_output_path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{path}: output directory does not exist")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_bytes(data: bytes, path) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def write_json(path, obj) -> None:
    """`obj` as indented JSON (+ newline), atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def write_text(path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_torch(obj, path) -> None:
    """torch.save, atomically (checkpoints, weights)."""
    import torch

    atomic_write(path, lambda tmp: torch.save(obj, tmp))
