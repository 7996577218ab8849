"""Multi-process mode: every worker's metrics on one endpoint, bound once.

Design (docs/prometheus.md has the long form):

* Each process writes its cumulative snapshot (translated families, JSON) to ``<dir>/w-<pid>.json``
  every ``interval``, on ``force_flush()`` and at shutdown, atomically (write + rename).
* One process serves the port: the one that bound it (the pre-fork parent when ``configure_otel`` ran
  before forking; otherwise the first worker, the others retrying the bind each interval so the
  endpoint comes back when the serving worker is replaced).
* On each scrape the server merges its own live families with every other snapshot. Counters,
  histograms and up-down counters are summed; gauges get a ``pid`` label or are aggregated
  (``multiprocess_gauge``).
* A snapshot whose process is gone (no such pid, a zombie, or a pid reused by a younger process) is
  folded into ``archive.json`` (counters and histograms only) and removed, so totals never go back
  when a worker is killed and replaced. Folding is idempotent (the archive lists what it folded).
* A forked child starts from its parent's cumulative state; the parent's values at fork time are
  recorded (``before`` fork hook) and subtracted from the child's snapshots, so nothing counts twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from otel_bridge._internal import guard
from otel_bridge.exporters.prometheus.model import Family, LabelKey, Value, subtract, sum_into

_log = logging.getLogger("otel_bridge.prometheus")

ARCHIVE = "archive.json"
SESSION = "session"
_MAX_FOLDED = 2000


def default_dir(port: int) -> Path:
    """The shared directory workers of one endpoint agree on without talking: per user and port."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"otel-bridge-prometheus-{uid}-{port}"


def prepare_dir(directory: Path) -> Path:
    """Creates the snapshot directory private (0700); refuses one that another user could write to.

    The default path is predictable (``/tmp/otel-bridge-prometheus-<uid>-<port>``): a local user who
    made it first could plant fake snapshots that the server would sum into the endpoint. Raises
    ``ValueError`` (a configuration error) for a directory owned by another user or world-writable.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not hasattr(os, "geteuid"):
        return directory
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"multiprocess_dir {str(directory)!r} is not a plain directory")
    if info.st_uid != os.geteuid():
        raise ValueError(
            f"multiprocess_dir {str(directory)!r} is owned by uid {info.st_uid}, not by this process "
            f"(uid {os.geteuid()}); remove it or set another multiprocess_dir"
        )
    if info.st_mode & stat.S_IWOTH:
        raise ValueError(
            f"multiprocess_dir {str(directory)!r} is writable by every user; chmod o-w it or set another "
            "multiprocess_dir"
        )
    return directory


def process_token(pid: int) -> str | None:
    """``"pid:starttime"`` of a live, non-zombie process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:?"
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return f"{pid}:{fields[19] if len(fields) > 19 else '?'}"


def under_gunicorn() -> bool:
    """True in a gunicorn master or worker (its arbiter module is loaded in both)."""
    import sys

    return "gunicorn.arbiter" in sys.modules


def _parent_is_gunicorn() -> bool:
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
            return b"gunicorn" in fh.read()
    except OSError:
        return False


def _index(families: list[Family]) -> dict[str, Family]:
    return {f.name: f for f in families}


def _with_label(labels: LabelKey, key: str, value: str) -> LabelKey:
    return tuple(sorted((*[(k, v) for k, v in labels if k != key], (key, value))))


class Coordinator:
    """Snapshot writer for this process, and merger when this process serves the endpoint.

    Args:
        reader: the process's reader (``own_families()``, ``own_families_nolock()``, ``lock``); its
            lock is held across ``fork()`` so no collection is mid-way in the child.
        directory: shared snapshot directory.
        interval_s: snapshot period.
        gauge_rule: ``pid`` | ``sum`` | ``max`` | ``min``.
        try_serve: binds the endpoint and returns True, or returns False when the port is taken.
    """

    def __init__(
        self,
        reader: Any,
        directory: Path,
        interval_s: float,
        gauge_rule: str = "pid",
        try_serve: Callable[[], bool] | None = None,
        forget_server: Callable[[], None] | None = None,
    ) -> None:
        self._reader = reader
        self.dir = Path(directory)
        self.interval_s = interval_s
        self.gauge_rule = gauge_rule
        self._try_serve = try_serve
        self._forget_server = forget_server
        self.serving = False
        self.baseline: dict[str, Family] = {}
        self._fork_baseline: dict[str, Family] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._set_identity()

    def _set_identity(self) -> None:
        self.pid = os.getpid()
        self.token = process_token(self.pid) or f"{self.pid}:?"
        # Tells this coordinator's files from those of another one in the same process (a second
        # configure_otel() builds a new reader before the old one shuts down).
        self.instance = os.urandom(4).hex()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, serving: bool, session: str | None = None) -> Coordinator:
        """Prepares the directory, starts the snapshot thread and the fork hooks."""
        self.serving = serving
        prepare_dir(self.dir)
        self._join_session(session or self._session_key())
        _register_fork_hooks(self)
        self._start_thread()
        return self

    def _session_key(self) -> str:
        # Workers of one gunicorn master share the master as their session; otherwise this process is it.
        if under_gunicorn() and _parent_is_gunicorn():
            return process_token(os.getppid()) or str(os.getppid())
        return self.token

    def _join_session(self, session: str) -> None:
        """A different session means files of an earlier run: they are removed, not summed."""
        with self._locked():
            marker = self.dir / SESSION
            try:
                current = marker.read_text()
            except OSError:
                current = ""
            if current != session:
                for path in self.dir.iterdir():
                    if path.name.startswith(("w-", ".tmp-")) or path.name == ARCHIVE:
                        path.unlink(missing_ok=True)
                marker.write_text(session)

    def _start_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = guard.start_thread("prometheus-snapshot", self._run)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.write_snapshot()
            if not self.serving and self._try_serve is not None:
                try:
                    self.serving = self._try_serve()
                except Exception:
                    _log.debug("prometheus: taking over the endpoint failed", exc_info=True)

    def close(self) -> None:
        """Stops the thread and retires this coordinator's counts; idempotent.

        The last snapshot is written as a finished one (its own file, a token no live process has), so
        the server folds it into the archive like a dead worker's: a process that configures again
        starts a new provider from zero without its earlier counts going back on the endpoint.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        try:
            with self._locked():
                if self.write_snapshot(retire=True):
                    live = self.dir / f"w-{self.pid}.json"
                    if (self._load(live) or {}).get("owner") == self.instance:
                        live.unlink(missing_ok=True)
        except Exception:
            _log.debug("prometheus: retiring the snapshot failed", exc_info=True)

    # -- fork ------------------------------------------------------------------------------------

    def before_fork(self) -> None:
        """Parent, just before ``fork()``: hold the collect lock and record what the child inherits."""
        self._reader.lock.acquire()
        try:
            self._fork_baseline = _index(self._reader.own_families_nolock()[0])
        except Exception:
            self._fork_baseline = {}
            _log.debug("prometheus: fork baseline failed", exc_info=True)

    def after_fork_parent(self) -> None:
        self._reader.lock.release()

    def after_fork_child(self) -> None:
        """Child: not the server, its own identity, counting from the inherited state."""
        self._reader.lock.release()
        if self.serving and self._forget_server is not None:
            self._forget_server()
        self.serving = False
        self._set_identity()
        self.baseline = self._fork_baseline
        self._fork_baseline = {}
        if not self._closed:
            self._start_thread()

    # -- snapshots -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # not POSIX: no fork-based workers to coordinate with anyway
            yield
            return
        with open(self.dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def own(self) -> list[Family]:
        """This process's families minus what it inherited at fork."""
        return subtract(self._reader.own_families(), self.baseline)

    def write_snapshot(self, families: list[Family] | None = None, *, retire: bool = False) -> bool:
        """Writes this process's snapshot atomically (``retire``: as a finished one); never raises."""
        try:
            fams = self.own() if families is None else families
            token = f"{self.token}/closed-{self.instance}" if retire else self.token
            payload = {"token": token, "owner": self.instance, "families": [f.to_json() for f in fams]}
            tmp = self.dir / f".tmp-{self.pid}-{self.instance}"
            tmp.write_text(json.dumps(payload, separators=(",", ":")))
            name = f"w-{self.pid}.{self.instance}.json" if retire else f"w-{self.pid}.json"
            os.replace(tmp, self.dir / name)
            return True
        except Exception:
            _log.debug("prometheus: writing the snapshot failed", exc_info=True)
            return False

    def flush(self) -> None:
        """Writes the snapshot now (``force_flush``)."""
        self.write_snapshot()

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def merge(self, own_raw: list[Family]) -> list[Family]:
        """Server side: own live families + every live worker's snapshot + the archive of dead ones."""
        own = subtract(own_raw, self.baseline)
        live: list[tuple[int, list[Family]]] = [(self.pid, own)]
        with self._locked():
            archive = self._load(self.dir / ARCHIVE) or {"folded": [], "families": []}
            archived = _index([Family.from_json(f) for f in archive["families"]])
            folded: list[str] = list(archive["folded"])
            changed = False
            own_file = f"w-{self.pid}.json"
            for path in sorted(self.dir.glob("w-*.json")):
                try:
                    pid = int(path.stem[2:].split(".", 1)[0])  # w-<pid>.json, or w-<pid>.<instance>.json
                except ValueError:
                    continue
                if path.name == own_file:
                    continue
                data = self._load(path)
                if data is None:
                    continue
                token = str(data.get("token", ""))
                fams = [Family.from_json(f) for f in data.get("families", [])]
                if process_token(pid) == token:
                    live.append((pid, fams))
                    continue
                if token not in folded:  # dead (or pid reused): its last counts become history
                    sum_into(archived, [f for f in fams if f.kind in ("counter", "histogram")])
                    folded.append(token)
                    changed = True
                path.unlink(missing_ok=True)
                if pid != self.pid and process_token(pid) is None:
                    for tmp_file in self.dir.glob(f".tmp-{pid}-*"):  # a write cut short by SIGKILL
                        tmp_file.unlink(missing_ok=True)
            if changed:
                payload = {"folded": folded[-_MAX_FOLDED:], "families": [f.to_json() for f in archived.values()]}
                tmp = self.dir / f".tmp-archive-{self.pid}"
                tmp.write_text(json.dumps(payload, separators=(",", ":")))
                os.replace(tmp, self.dir / ARCHIVE)
        return self._combine(archived, live)

    def _combine(self, archived: dict[str, Family], live: list[tuple[int, list[Family]]]) -> list[Family]:
        out: dict[str, Family] = {}
        for _pid, fams in live:  # keep the server's order first
            for fam in fams:
                out.setdefault(fam.name, Family(fam.name, fam.kind, fam.help, fam.unit, fam.origin))
        sum_into(out, list(archived.values()))
        for _pid, fams in live:
            sum_into(out, fams)
        for pid, fams in live:
            for fam in fams:
                if fam.additive:
                    continue
                target = out[fam.name]
                if target.kind != fam.kind:
                    continue
                for labels, value in fam.samples.items():
                    self._gauge_into(target.samples, labels, value, pid)
        return [f for f in out.values() if f.samples]

    def _gauge_into(self, samples: dict[LabelKey, Value], labels: LabelKey, value: Value, pid: int) -> None:
        if self.gauge_rule == "pid" or not isinstance(value, float):
            samples[_with_label(labels, "pid", str(pid))] = value
            return
        have = samples.get(labels)
        if not isinstance(have, float):
            samples[labels] = value
        elif self.gauge_rule == "sum":
            samples[labels] = have + value
        elif self.gauge_rule == "max":
            samples[labels] = max(have, value)
        else:
            samples[labels] = min(have, value)


_live: weakref.WeakSet[Coordinator] = weakref.WeakSet()
_hooks_installed = False


def _register_fork_hooks(coordinator: Coordinator) -> None:
    global _hooks_installed
    _live.add(coordinator)
    if _hooks_installed or not hasattr(os, "register_at_fork"):
        return
    _hooks_installed = True

    # The coordinators prepared in ``before`` are exactly those released after the fork, even if one
    # is closed in between by another thread.
    forking: list[Coordinator] = []

    def before() -> None:
        forking.clear()
        for c in list(_live):
            if not c._closed:
                c.before_fork()
                forking.append(c)

    def after(method: str) -> Callable[[], None]:
        def run() -> None:
            for c in forking:
                getattr(c, method)()
            forking.clear()

        return run

    os.register_at_fork(
        before=before,
        after_in_parent=after("after_fork_parent"),
        after_in_child=after("after_fork_child"),
    )
