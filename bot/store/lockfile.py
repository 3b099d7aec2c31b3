"""Lock files that tell, at once, that a process on this machine is gone.

A lease needs half a minute to run out. A process also holds an exclusive ``flock`` on its own file
in the bot's data folder; the kernel drops it the moment the process dies, however it dies. Another
process that uses the same folder (same machine, same folder, see ``folder_token``) can then tell
a crash from a slow heartbeat straight away, so a restarted bot makes its members whole at start-up.
Processes elsewhere can't see the file and wait for the lease. Everything here is synchronous
file system work: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

_FOLDER_ID = "imagebot-folder.id"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def locks_supported() -> bool:
    """Whether this platform has ``flock`` (not Windows: there only the lease tells)."""
    return sys.platform != "win32"


def _lock_path(folder: Path, process_id: str) -> Path:
    return folder / f"imagebot-process-{process_id}.lock"


def folder_token(folder: Path) -> str:
    """Names this folder as seen from this machine: two processes share it iff tokens match.

    A random id kept in the folder tells folders apart (another volume mounted at the same path);
    the machine's boot id (its host name where there is none) and the path keep a copy of the folder
    elsewhere from passing for it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    id_file = folder / _FOLDER_ID
    try:
        with id_file.open("x", encoding="utf-8") as created:
            created.write(secrets.token_hex(16))
    except FileExistsError:
        pass
    try:
        machine = _BOOT_ID.read_text("utf-8").strip()
    except OSError:
        machine = socket.gethostname()
    return f"{id_file.read_text('utf-8').strip()}:{machine}:{folder.resolve()}"


class ProcessLock:
    """This process's lock file, held until ``release`` or until the process dies."""

    def __init__(self, path: Path, fd: int) -> None:
        self._path = path
        self._fd = fd

    @classmethod
    def acquire(cls, folder: Path, process_id: str) -> ProcessLock:
        """Create and lock the process's file (its id is random, so nobody else holds it)."""
        import fcntl

        path = _lock_path(folder, process_id)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Remove the file and drop the lock (a process still reading it sees it gone: dead)."""
        self._path.unlink(missing_ok=True)
        os.close(self._fd)


def is_dead(folder: Path, process_id: str) -> bool:
    """Whether the process's lock file in ``folder`` is missing or unheld; cleans a stale file."""
    import fcntl

    path = _lock_path(folder, process_id)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)
