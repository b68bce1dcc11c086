"""Which cache directories gllamm reads compiled programs from.

Compiled programs are machine code, and gllamm's stored executables are read with ``pickle``: whoever can
write into a cache directory can make the next fit run their code. gllamm therefore trusts a cache
directory only when no other user can have written into it:

* the directory is created with mode 0700 (only its owner may read, write or enter it);
* an existing directory is used only if it belongs to the current user and neither its group nor
  other users may write to it, and no folder above it is writable by other users without the
  sticky bit (as /tmp has: there others cannot rename or replace what is ours);
* anything else (a directory of another user, a group-writable one) is not used: gllamm then
  compiles in memory, with a warning that names the directory and how to fix it.

Within a trusted directory, only file names that are content hashes (32 hex digits) are opened, so a
name read from an index or profile file can never point outside it. On systems without POSIX
ownership (Windows) the directory is trusted as the user's own profile folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def untrusted_reason(path: Path) -> str | None:
    """Why ``path`` (an existing directory) may hold files of another user; None when it is trusted."""
    if not hasattr(os, "geteuid"):
        return None
    user = os.geteuid()
    try:
        info = path.stat()
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != user:
        return f"it belongs to user id {info.st_uid}, not to you ({user})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users may write to it (mode {stat.filemode(info.st_mode)}); run chmod go-w {path}"
    for parent in path.resolve().parents:
        try:
            above = parent.stat()
        except OSError:
            continue
        shared = above.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not above.st_mode & stat.S_ISVTX
        if shared and above.st_uid not in (user, 0):
            return f"the folder {parent} above it may be written by other users"
    return None


def make_private_directory(path: Path) -> str | None:
    """Create ``path`` (and missing parents) with mode 0700; None if it is trusted, else the reason it is not."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        return f"it cannot be created ({error.strerror})"
    return untrusted_reason(path)
