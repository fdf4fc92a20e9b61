"""Writing uploaded files under MEDIA_ROOT: all of them or none, and a clear answer when the disk is full."""

import errno
import os
import secrets
from pathlib import Path

from app.core.errors import ApiError

FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_files(files: dict[Path, bytes]) -> None:
    """Write every ``path: content`` (each through a temporary name, renamed once complete), or none.

    When a write fails every file of the call is removed again; a full disk (or quota) is
    ``ApiError(507)``, any other error is raised as it is.
    """
    done: list[Path] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            try:
                with open(tmp, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            done.append(path)
    except OSError as e:
        for path in done:
            path.unlink(missing_ok=True)
        if e.errno in FULL:
            raise ApiError(
                507,
                "the server's disk is full: nothing was stored; try again later and tell the administrator",
                {"file": "disk full"},
            ) from None
        raise
