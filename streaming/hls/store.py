"""Where a show's HLS media lives: one small interface, a directory by default.

Paths are relative and use ``/`` (``sessions/<id>/seg<msn>.m4s``); every node,
or a CDN origin, that sees the same directory serves the same files. Object
storage can implement :class:`MediaStore` later without touching the packager.

Layout per show (:func:`show_prefix`): ``init.mp4``, ``part<msn>.<k>.m4s``,
``seg<msn>.m4s`` while live; ``vod.m3u8`` and ``index.json`` once it ended.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

__all__ = ["DirectoryStore", "MediaStore", "show_prefix"]


def show_prefix(session_id: int) -> str:
    """The store prefix of one show's media (ends with ``/``)."""
    return f"sessions/{session_id}/"


class MediaStore(Protocol):
    def write(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path`` (whole; readers never see half a file)."""

    def read(self, path: str) -> bytes | None:
        """The bytes at ``path``, None if there is nothing."""

    def size(self, path: str) -> int | None:
        """The size of ``path`` in bytes, None if there is nothing."""

    def exists(self, path: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None:
        """Delete everything under ``prefix`` (a show's media)."""

    def list(self, prefix: str) -> list[str]:
        """The paths under ``prefix``, sorted."""


class DirectoryStore:
    """A :class:`MediaStore` in a local (or shared) directory (``MEDIA_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, path: str) -> Path:
        parts = [p for p in path.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ValueError(f"bad media path {path!r}")
        return self.root.joinpath(*parts)

    def write(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # atomic: a reader sees the old file or the whole new one

    def read(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def size(self, path: str) -> int | None:
        try:
            found = self._path(path)
            return found.stat().st_size if found.is_file() else None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, path: str) -> bool:
        return self.size(path) is not None

    def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.is_file():
            target.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        root = self.root
        return sorted(
            p.relative_to(root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
