"""Publishing a build on disk: its files switched into place atomically.

``out`` (default ``dist``) is a symbolic link to a sibling folder ``.dist.<sha>.<random>`` that holds one
complete build. A build writes a new folder beside it, syncs it to disk, then replaces the link with
``os.replace``, which is atomic: whenever the build stops, even killed, ``dist`` is the previous complete
build or the new one, never a mix and never missing. Builds into one folder take turns through a lock
file (``.dist.lock``), which lets each remove what killed builds left behind; the previous build is kept,
for readers that are still using it, and older ones are removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from spacegraph.errors import SpacegraphError

VOID_FILE = "void.ttl"
SUMS_FILE = "SHA256SUMS"  # with VOID_FILE, what tells a folder of ours from someone else's


def publish(files: Mapping[str, bytes], out: Path) -> Path:
    """Write ``files`` into a new folder beside ``out`` and point ``out`` at it; return the folder."""
    out = Path(os.path.abspath(out))
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(out)
    with locked(parent / f".{out.name}.lock"):
        previous = current_folder(out)
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp.", dir=parent))
        try:
            for name, data in files.items():
                write_synced(temporary / name, data)
            os.chmod(temporary, 0o755)
            sync(temporary)
            digest = hashlib.sha256(files[SUMS_FILE]).hexdigest()[:12]
            folder = parent / f".{out.name}.{digest}.{temporary.name.rsplit('.', 1)[-1]}"
            os.rename(temporary, folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        switch(out, folder)
        remove_leftovers(out, keep={folder, *([previous] if previous else [])})
    return folder


def write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def sync(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def check_replaceable(out: Path) -> None:
    """``out`` may be missing, a link, or a folder of an earlier build (or empty); anything else is
    someone's data, which a build must not replace."""
    if out.is_symlink() or not out.exists():
        return
    if out.is_dir() and (not any(out.iterdir()) or all((out / name).is_file() for name in (SUMS_FILE, VOID_FILE))):
        return
    raise SpacegraphError("exists and is not a spacegraph build; remove it or choose another --out", path=out)


def leftover_pattern(out: Path) -> re.Pattern[str]:
    name = re.escape(out.name)
    return re.compile(rf"^\.{name}\.(?:tmp\.[A-Za-z0-9_]+|link\.[A-Za-z0-9_]+|[0-9a-f]{{12}}\.[A-Za-z0-9_]+)$")


def current_folder(out: Path) -> Path | None:
    """The build folder ``out`` points to, if it is one of ours."""
    if not out.is_symlink():
        return None
    target = Path(os.readlink(out))
    if target.parent != Path(".") or not leftover_pattern(out).match(target.name):
        return None
    return out.parent / target.name


def remove_leftovers(out: Path, keep: set[Path]) -> None:
    """Remove temporary folders and links of killed builds, and builds other than those in ``keep``."""
    pattern = leftover_pattern(out)
    for entry in sorted(out.parent.iterdir()):
        if not pattern.match(entry.name) or entry in keep:
            continue
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
        else:
            shutil.rmtree(entry, ignore_errors=True)


def switch(out: Path, folder: Path) -> None:
    """Point ``out`` at ``folder``, atomically."""
    link = out.parent / f".{out.name}.link.{folder.name.rsplit('.', 1)[-1]}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    os.symlink(folder.name, link)  # relative: the project folder can move
    if out.is_dir() and not out.is_symlink():
        # A real folder from an older layout: swap it with the link in one step, then remove it.
        try:
            exchange(link, out)
        except OSError:
            # No atomic swap on this system: the folder is moved aside, then the link takes its place.
            aside = out.parent / f".{out.name}.tmp.old{folder.name.rsplit('.', 1)[-1]}"
            os.rename(out, aside)
            os.replace(link, out)
            link = aside
        shutil.rmtree(link, ignore_errors=True)
    else:
        os.replace(link, out)
    sync(out.parent)


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def exchange(first: Path, second: Path) -> None:
    """Swap two paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first))
