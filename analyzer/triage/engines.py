"""Engines that run ``run_case`` for every CaseSpec and yield the results as they finish.

* ``local`` (``_run_local`` / ``LocalPool``): spawned worker processes under an address-space limit,
  each of which can be killed and replaced on its own when its case hangs or crashes it.
* ``dask`` (``_run_dask``): the same ``run_cases`` on dask.distributed, a given scheduler or a LocalCluster.

Either way a case that cannot finish becomes a result with an ``error`` (``_failed``), never an exception.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from analyzer import memcap
from analyzer.model import exception_line
from analyzer.triage.budget import CaseClock, WallClock, has_address_space_limit, resident_bytes
from analyzer.triage.cases import CaseSpec, TriageError, run_case, run_cases
from analyzer.triage.lock import process_alive
from analyzer.triage.stopping import held_signals, signal_point

DEFAULT_MEMORY_LIMIT = memcap.DEFAULT_MEMORY_LIMIT  # address space per local worker; more is an error row
DASK_BATCH = (
    64  # most cases per Dask task: each task costs scheduler, nanny and worker CPU (64 vs 16: -6% CPU per case)
)

#: Dask settings of the LocalCluster that cost CPU on every worker and serve only its dashboard or
#: diagnostics, none of which triage uses (measured with benchmarks/triage_speed.py; figures in the
#: issue-16 notes).  They reach the worker processes, which take their settings from the nanny.
LEAN_CLUSTER: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,  # a stack sample of every worker thread every 10 ms
    "distributed.scheduler.work-stealing": False,  # tasks wait on the scheduler (queuing): nothing to steal
    "distributed.admin.tick.interval": "1s",  # event-loop "blocked" watch, 50x a second in every process
    "distributed.admin.system-monitor.interval": "2s",  # CPU/memory/network samples for the dashboard
    "distributed.admin.system-monitor.gil.enabled": False,  # GIL contention sampling for the dashboard
    "distributed.worker.memory.monitor-interval": "500ms",  # memory checks (default 100 ms): a kill waits <= 0.5 s
}
MEMORY_WATCH_STEP = 0.25  # seconds between two looks at the workers' memory where they cannot cap it themselves

# --------------------------------------------------------------------------- engines


def _worker_main(
    conn: multiprocessing.connection.Connection, tmpdir: str, memory_limit: int | None, clock: CaseClock
) -> None:
    """A local worker process: set up, then ``serve`` cases until told to stop.

    ``memory_limit`` is given only when the parent found that this platform can cap a process's
    address space; otherwise the parent watches the worker's resident memory itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    tempfile.tempdir = tmpdir
    memcap.apply(memory_limit)  # where the platform cannot cap, the case runs without a cap
    for module in ("analyzer.events", "analyzer.registry", "analyzer.diagnosis"):  # before the clock starts
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    if _send(conn, "ready"):
        serve(conn, clock)


def serve(
    conn: multiprocessing.connection.Connection,
    clock: CaseClock,
    run: Callable[[CaseSpec], dict[str, Any]] = run_case,
) -> None:
    """Receive ``(spec, ahead)``, send back ``run(spec)``'s result, until ``None`` or a closed pipe.

    ``ahead``: the parent sent the case while this worker was still busy, so only this worker knows when
    it starts, and the parent's time limit must start then (a case may move a per-case clock at once).
    The start reading goes with the previous result (``next_start``) when the case was already waiting
    in the pipe, else in a ``("started", index, reading)`` message before the case runs.
    """
    message = _receive(conn)
    reported = False
    while message is not None:
        spec, ahead = message
        if ahead and not reported and not _send(conn, ("started", spec.index, clock.now(spec.index))):
            return
        result = run(spec)
        message, reported = None, False
        try:
            waiting = conn.poll()
        except (OSError, ValueError):
            return
        if waiting:
            message = _receive(conn)
            if message is not None:
                result["next_start"] = clock.now(message[0].index)
                reported = True
        if not _send(conn, result):
            return
        if not waiting:
            message = _receive(conn)


def _receive(conn: multiprocessing.connection.Connection) -> Any:
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def _send(conn: multiprocessing.connection.Connection, message: Any) -> bool:
    try:
        conn.send(message)
    except (OSError, ValueError):
        return False
    return True


@dataclass
class _Worker:
    proc: Any
    conn: multiprocessing.connection.Connection
    tmpdir: str
    spec: CaseSpec | None = None  # the case it runs
    deadline: float = 0.0
    ready: bool = False  # the worker has started up and imported the diagnosis
    #: The case sent ahead: it waits in the pipe and starts the moment ``spec`` is done, so a worker
    #: never idles while this process is busy (writing a result, serving the other workers).
    queued: CaseSpec | None = None


class LocalPool:
    """A few worker processes that can each be killed and replaced without disturbing the others.

    ``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies and cannot kill
    a single hung task; a case that hangs in C code or gets OOM-killed must only cost its own row.
    """

    def __init__(
        self, jobs: int, *, memory_limit: int | None, kill_grace: float, clock: CaseClock | None = None
    ) -> None:
        self.jobs = max(1, jobs)
        self.memory_limit = memory_limit
        # Where a worker cannot cap its own address space (Windows), this parent watches its memory.
        self.watch_memory = bool(memory_limit) and not has_address_space_limit()
        self.kill_grace = kill_grace
        self.clock: CaseClock = clock or WallClock()
        self.ctx = multiprocessing.get_context("spawn")  # safe from threaded parents (notebooks)
        self.tmproot = owned_temp_folder()
        self.workers: list[_Worker] = []

    def _start(self, n: int) -> _Worker:
        tmpdir = os.path.join(self.tmproot, f"w{n}")
        os.makedirs(tmpdir, exist_ok=True)
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(
            target=_worker_main,
            args=(child, tmpdir, None if self.watch_memory else self.memory_limit, self.clock),
            name=f"analyzer-triage-{n}",
            daemon=True,
        )
        with _sigint_ignored():  # held in the child too: Ctrl-C during its start-up prints nothing
            proc.start()
        child.close()
        return _Worker(proc, parent, tmpdir)

    def _replace(self, w: _Worker) -> _Worker:
        """Kill a worker, clear its temp folder (a killed case cannot clean up) and start a new one."""
        with contextlib.suppress(Exception):
            w.proc.kill()
            w.proc.join(5)
        w.conn.close()
        shutil.rmtree(w.tmpdir, ignore_errors=True)
        idx = self.workers.index(w)
        fresh = self._start(idx)
        self.workers[idx] = fresh
        return fresh

    def run(self, specs: Sequence[CaseSpec]) -> Iterator[dict[str, Any]]:
        """Yield one result per spec, in completion order.

        Finished workers get their next case before results are handed on, so a worker never waits
        while the caller writes JSON.
        """
        pending = deque(specs)
        try:
            self.workers = [self._start(i) for i in range(min(self.jobs, max(1, len(specs))))]
            while pending or any(w.spec is not None for w in self.workers):
                done = self._dispatch(pending)
                starting = [w for w in self.workers if not w.ready]
                busy = [w for w in self.workers if w.spec is not None]
                if busy or starting:
                    wait_for = min((w.deadline - self.clock.now(w.spec.index) for w in busy if w.spec), default=1.0)
                    if self.watch_memory:
                        wait_for = min(wait_for, MEMORY_WATCH_STEP)
                    ready = multiprocessing.connection.wait(
                        [w.conn for w in busy + starting] + [w.proc.sentinel for w in busy + starting],
                        timeout=max(0.0, min(wait_for, 1.0)),
                    )
                    self._started(starting, ready)
                    done += self._collect(busy, ready, pending)
                    done += self._dispatch(pending)
                yield from done
        finally:
            self.close()

    def _dispatch(self, pending: deque[CaseSpec]) -> list[dict[str, Any]]:
        """Give every idle, started worker its next case, and every busy one the case after it (sent
        ahead); results of cases that could not be sent."""
        failed = []
        for w in list(self.workers):
            if w.spec is None and w.ready and pending:
                spec = pending.popleft()
                self._running(w, spec)  # the worker is idle: the case cannot start before it arrives
                try:
                    w.conn.send((spec, False))
                except (OSError, ValueError) as exc:
                    failed.append(_failed(spec, f"internal error: cannot start the case ({exc})"))
                    w = self._replace(w)
            if w.spec is not None and w.queued is None and pending:
                ahead = pending.popleft()
                try:
                    w.conn.send((ahead, True))
                except (OSError, ValueError):
                    pending.appendleft(ahead)  # the worker is gone: _collect replaces it, the case waits
                else:
                    w.queued = ahead
        return failed

    def _running(self, w: _Worker, spec: CaseSpec, start: float | None = None) -> None:
        """``spec`` is the case ``w`` runs from now on: its time limit starts at ``start``, the worker's
        reading of the clock (``serve``), else at this process's reading now."""
        w.spec = spec
        limit = spec.timeout if spec.timeout and spec.timeout > 0 else None
        if start is None:
            start = self.clock.now(spec.index)
        w.deadline = start + limit + self.kill_grace if limit else float("inf")

    def _started(self, starting: list[_Worker], ready: list[Any]) -> None:
        for w in starting:
            if w.conn in ready:
                try:
                    w.ready = w.conn.recv() == "ready"
                except (EOFError, OSError):
                    w.ready = False
            if not w.ready and (w.proc.sentinel in ready or w.conn in ready):
                w.proc.join(5)
                raise TriageError(f"a worker process could not start (exit code {w.proc.exitcode})")

    def _collect(self, busy: list[_Worker], ready: list[Any], pending: deque[CaseSpec]) -> list[dict[str, Any]]:
        """Results of finished cases; dead or overdue workers are replaced and their case fails (the case
        sent ahead to such a worker had not started: it goes back to the front of ``pending``)."""
        done = []
        for w in busy:
            spec = w.spec
            assert spec is not None
            if w.conn in ready:
                try:
                    result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if isinstance(result, tuple):  # ("started", index, reading) of the case sent ahead
                    if result[1] == spec.index:
                        self._running(w, spec, result[2])
                    continue
                if result is not None:
                    w.spec = None
                    if w.queued is not None:  # the worker has started the case sent ahead
                        # until its own reading comes (next_start, or a "started" message), this one counts
                        self._running(w, w.queued, result.pop("next_start", None))
                        w.queued = None
                    done.append(result)
                    continue
            failure = None
            if w.conn in ready or w.proc.sentinel in ready or not w.proc.is_alive():
                w.proc.join(5)  # the pipe closed: the process is ending, collect its exit code
                code = w.proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                failure = f"worker process died ({why}); out of memory or a crash in a parser"
            elif self.clock.now(spec.index) > w.deadline:
                failure = f"timed out after {spec.timeout:g} s (worker killed)"
            elif self.watch_memory and self.memory_limit and (resident_bytes(w.proc.pid) or 0) > self.memory_limit:
                failure = f"out of memory (worker above the {self.memory_limit / (1 << 20):g} MiB limit; killed)"
            if failure is not None:
                if w.queued is not None:  # it had not started: it waits again for the next worker
                    pending.appendleft(w.queued)
                done.append(_failed(spec, failure))
                self._replace(w)
        return done

    def close(self) -> None:
        """Idle workers are asked to stop; busy ones (Ctrl-C, an error in the caller) are killed at once."""
        for w in self.workers:
            with contextlib.suppress(Exception):
                if w.spec is None:
                    w.conn.send(None)
                else:
                    w.proc.kill()
        for w in self.workers:
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(2)
            w.conn.close()
        self.workers = []
        shutil.rmtree(self.tmproot, ignore_errors=True)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT held back while child processes are created, so that they start with it held too.

    The signal is ignored for the moment of the start (an ignored signal stays ignored across exec, and
    Python then leaves it so), so a Ctrl-C in the first second of a worker cannot print its start-up
    traceback.  Where it can (POSIX) it is also blocked meanwhile: a Ctrl-C that came then stays
    pending and reaches this process as soon as the block ends, instead of being lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    block = hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if block:  # a Ctrl-C that came meanwhile stayed pending (blocked signals are not ignored): now it lands
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


TEMP_PREFIX = "analyzer-triage-"
OWNER_FILE = "owner.pid"


def owned_temp_folder() -> str:
    """A new temp folder for worker files, marked with this process's pid so that the next run
    removes it if this one is killed (``sweep_stale_temp``, which runs first)."""
    sweep_stale_temp()
    folder = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    with open(os.path.join(folder, OWNER_FILE), "w", encoding="ascii") as fh:
        fh.write(str(os.getpid()))
    return folder


def sweep_stale_temp() -> list[str]:
    """Remove worker temp folders that a killed run (``kill -9``) left behind; returns what was removed.

    Only folders whose ``owner.pid`` names a process that no longer exists are touched."""
    removed = []
    base = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            if not entry.name.startswith(TEMP_PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                with open(os.path.join(entry.path, OWNER_FILE), encoding="ascii") as fh:
                    pid = int(fh.read().strip())
            except (OSError, ValueError):
                continue  # not ours to judge (an older run, or another tool's folder)
            if not process_alive(pid):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed


def _failed(spec: CaseSpec, reason: str) -> dict[str, Any]:
    return {
        "index": spec.index,
        "doc": None,
        "resumed": False,
        "error": reason,
        "case_errors": [],
        "case_warnings": [],
        "inputs": 0,
        "seconds": float(spec.timeout or 0.0) if "timed out" in reason else 0.0,
    }


def _run_local(
    specs: Sequence[CaseSpec], jobs: int, memory_limit: int | None, kill_grace: float, clock: CaseClock | None = None
) -> Iterator[dict[str, Any]]:
    pool = LocalPool(jobs, memory_limit=memory_limit, kill_grace=kill_grace, clock=clock)
    try:
        yield from pool.run(specs)
    finally:
        pool.close()


def _run_dask(
    specs: Sequence[CaseSpec], *, jobs: int, scheduler: str | None, memory_limit: int | None
) -> Iterator[dict[str, Any]]:
    """The same ``run_case`` on dask.distributed: the given scheduler, else a LocalCluster of processes.

    On a remote cluster the workers open the case paths themselves, so ROOT must be on a file system
    they share; results come back to this process, which alone writes into DIR.  The time limit is
    the in-thread asynchronous exception (a case stuck inside C code is not interrupted there);
    memory is bounded by the workers' ``memory_limit`` (the nanny restarts a worker that exceeds it).
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise TriageError("the dask engine needs dask[distributed] (pip install 'analyzer[triage]')") from None
    import dask

    settings = {
        "distributed.scheduler.allowed-failures": 1,  # a case that kills its worker is retried once, not 3x
        **LEAN_CLUSTER,
    }
    with dask.config.set(settings):
        client = _dask_client(Client, LocalCluster, scheduler, jobs, memory_limit)
        kept = scheduler is None  # our LocalCluster stays up for the next call; a given scheduler's client does not
        try:
            yield from _dask_results(client, specs, jobs)
        except BaseException:
            kept = False  # a broken or interrupted run (Ctrl-C, SIGTERM) closes what it started
            raise
        finally:
            if not kept:
                _forget(client)


def _dask_results(client: Any, specs: Sequence[CaseSpec], jobs: int) -> Iterator[dict[str, Any]]:
    """Submit the cases in batches and yield their results as they finish.

    A batch that fails (its worker died: out of memory, a crash in a parser, ``os._exit``) does not
    say which of its cases did it, and the scheduler cannot either: when a worker dies, every task
    it held -- running or queued, of any batch -- is counted as suspicious, and with one worker an
    innocent neighbour is counted again when the culprit kills the worker a second time.  So the
    cases of every failed batch become *suspects*, and each suspect then runs alone, one after the
    other, once everything else has finished: with no other task of this run on the cluster, a
    worker that dies under a suspect was killed by that case, so it alone becomes an error row.
    """
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:12]
    # A few cases per task: a case takes milliseconds, a scheduled task costs about as much.
    # Sized to the cluster (its worker threads), so that every worker gets several batches.
    size = batch_size(len(specs), _slots(client, jobs))
    batches = [tuple(specs[i : i + size]) for i in range(0, len(specs), size)]
    futures = [
        client.submit(run_cases, batch, pure=False, key=f"analyzer-cases-{token}-{n}")
        for n, batch in enumerate(batches)
    ]
    by_key = {f.key: batch for f, batch in zip(futures, batches, strict=True)}
    suspects: list[CaseSpec] = []
    for future in as_completed(futures):
        batch = by_key.pop(future.key)
        try:
            results = future.result()
        except Exception:  # a worker lost under this batch, or the task itself failed: find out below
            suspects.extend(batch)
            results = []
        future.release()
        yield from results
    for spec in sorted(suspects, key=lambda s: s.index):
        alone = client.submit(run_cases, (spec,), pure=False, key=f"analyzer-case-{token}-alone-{spec.index}")
        try:
            results = alone.result()
        except Exception as exc:  # it failed with nothing else running: this case did it
            results = [_failed(spec, _dask_failure(exc))]
        alone.release()
        yield from results


def _dask_failure(exc: BaseException) -> str:
    """The error row's reason for a case whose Dask task failed when it ran alone."""
    if type(exc).__name__ == "KilledWorker":
        return "worker process died (dask KilledWorker); out of memory or a crash in a parser"
    return f"dask task failed: {type(exc).__name__}: {exception_line(exc)}"


def batch_size(cases: int, slots: int) -> int:
    """Cases per Dask task: about four tasks per worker thread (load balance), at most ``DASK_BATCH``."""
    return max(1, min(DASK_BATCH, cases // (4 * max(1, slots))))


#: LocalCluster clients kept for the life of the process, by shape: a notebook or script that calls
#: ``triage`` many times pays the cluster start-up (seconds) once, and the workers keep their loaded
#: rules and imports.  A client of a given scheduler is opened per call and closed after it.
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_SCRATCH: dict[int, str] = {}  # id of a kept client -> its workers' scratch folder


def _dask_client(
    client_type: Any, cluster_type: Any, scheduler: str | None, jobs: int, memory_limit: int | None
) -> Any:
    """A running client for the scheduler (or a LocalCluster of ``jobs`` processes), reused when alive."""
    key: tuple[Any, ...] = ("local", jobs, memory_limit)
    client = None if scheduler else _CLIENTS.get(key)
    if client is not None and client.status == "running":
        return client
    if client is not None:
        _forget(client)
    if scheduler:
        try:
            return client_type(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise TriageError(f"cannot reach the Dask scheduler at {scheduler}: {exception_line(exc)}") from None
    # Ctrl-C and SIGTERM wait until the cluster and its client are up (a start cut in half leaves
    # processes behind) and then stop the run as usual, closing them; the worker processes never see
    # the terminal's Ctrl-C (``held_signals``).
    import dask

    # The scratch space of the scheduler and workers is a folder of this run's own, removed with the cluster.
    cluster = client = None
    scratch = owned_temp_folder()
    _resource_tracker_running()
    try:
        with held_signals(), dask.config.set({"temporary-directory": scratch}):
            signal_point("dask-cluster-start")
            cluster = cluster_type(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit or "auto",
                dashboard_address=None,
                # its HTTP server (health routes) on a free local port: 8787 may be another cluster's
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=50,
            )
            client = client_type(cluster)
            signal_point("dask-cluster-started")
    except BaseException as exc:
        for started in (client, cluster):
            if started is not None:
                with contextlib.suppress(Exception):
                    started.close()
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, OSError | RuntimeError | TimeoutError):
            raise TriageError(f"the local Dask cluster could not start: {exception_line(exc)}") from None
        raise
    if not _CLIENTS:
        atexit.register(close_dask_clients)
    _CLIENTS[key] = client
    _SCRATCH[id(client)] = scratch
    return client


def _resource_tracker_running() -> None:
    """Start multiprocessing's resource tracker now, before ``held_signals`` blocks SIGINT.

    The thread that starts it unblocks SIGINT afterwards whatever the mask was before; started later
    from the cluster's thread, it would unblock SIGINT for every worker process spawned after it."""
    if os.name != "posix":
        return
    with contextlib.suppress(Exception):
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()


def _slots(client: Any, jobs: int) -> int:
    """Worker threads of the cluster (``jobs`` when the scheduler cannot say)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # an old scheduler or a transient error: the asked-for parallelism will do
        return max(1, jobs)


def _forget(client: Any) -> None:
    for key, known in list(_CLIENTS.items()):
        if known is client:
            del _CLIENTS[key]
    cluster = getattr(client, "cluster", None)
    with contextlib.suppress(Exception):
        client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()
    scratch = _SCRATCH.pop(id(client), None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def close_dask_clients() -> None:
    """Close every Dask client and LocalCluster kept by ``triage`` (also done when the process exits)."""
    for client in list(_CLIENTS.values()):
        _forget(client)
