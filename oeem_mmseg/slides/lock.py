"""A lock per output (a slide's or an image's), so that two runs on the same
output folder (two jobs, two ranks) never write the same outputs at once.

The lock is a file ``NAME.lock`` beside the outputs, made atomically (it
appears complete, or not at all) and holding who made it: host, process
id, the process's start time and when the lock was taken. A lock whose
holder is a live process refuses the output; one left by a process of
this host that is gone (killed) is taken over.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
import uuid
from typing import Optional

from ..utils.errors import OEEMInputError
from ..utils.io import create_temporary


class OutputBusy(OEEMInputError):
    """The output is locked by another live run (one line naming the output
    and the holder)."""


def _process_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` in clock ticks since boot (field 22
    of ``/proc/PID/stat``), None where unknown (no /proc, no process): tells
    a live holder from a new process that got its id."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the process that wrote ``holder`` still runs (only called for
    holders of this host)."""
    pid = holder.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user: it exists
    started = _process_start(pid)
    return (started is None or holder.get('process_start') is None
            or started == holder['process_start'])


def _read(path: str) -> Optional[dict]:
    """The holder recorded in a lock file; None when there is none (released
    meanwhile); ``{}`` when unreadable."""
    try:
        with open(path) as f:
            holder = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder: dict) -> str:
    """``host:pid since UTC time`` of a lock's holder."""
    started = time.strftime('%Y-%m-%d %H:%M:%S UTC',
                            time.gmtime(holder.get('locked_at', 0)))
    return (f'{holder.get("host", "?")}:{holder.get("pid", "?")} since '
            f'{started}')


class OutputLock:
    """Hold ``path`` (e.g. ``OUT/NAME.lock``) while writing one output, as a
    context manager.

    Args:
        path: The lock file.
        what: How messages name the output (e.g. the slide's file).
        wait: Seconds to wait for a live holder to release it before
            refusing (0: refuse at once).

    Raises:
        OutputBusy: (on entering) a live process holds the lock: ``what``
            and the holder in one line. A lock of a process of this host
            that is gone is taken over, saying so in one line on stderr.
    """

    def __init__(self, path: str, what: str, wait: float = 0) -> None:
        self.path = path
        self.what = what
        self.wait = wait
        self.holder = dict(host=socket.gethostname(), pid=os.getpid(),
                           process_start=_process_start(os.getpid()))

    def _create(self) -> bool:
        """Make the lock file with our holder record, complete from its first
        instant (written beside it, then hard-linked: creating a link fails
        when the name exists, like ``O_CREAT | O_EXCL``); False when it
        exists."""
        directory = osp.dirname(osp.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = create_temporary(directory, osp.basename(self.path))
        with os.fdopen(fd, 'w') as f:
            json.dump(dict(self.holder, locked_at=time.time()), f)
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(tmp)

    def _take_over(self, stale: dict) -> None:
        """Remove the lock file if it still holds the record ``stale``
        (moved aside first, so that a lock another process has just taken
        over is put back, not removed)."""
        aside = f'{self.path}.{uuid.uuid4().hex[:8]}.stale'
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        if _read(aside) != stale:
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        os.remove(aside)

    def __enter__(self) -> 'OutputLock':
        deadline = time.monotonic() + self.wait
        while not self._create():
            holder = _read(self.path)
            if holder is None:
                continue
            if holder.get('host') == self.holder['host'] and not _alive(
                    holder):
                print(f'{self.what}: taking over the lock {self.path} of '
                      f'the stopped run {describe(holder)}', file=sys.stderr,
                      flush=True)
                self._take_over(holder)
                continue
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise OutputBusy(
                f'{self.what}: being written by another run '
                f'({describe(holder)}, lock {self.path}); skipped (if that '
                'run is dead, delete the lock file)')
        return self

    def __exit__(self, *exc) -> None:
        holder = _read(self.path)
        if holder is not None and all(holder.get(key) == value
                                      for key, value in self.holder.items()):
            os.remove(self.path)
