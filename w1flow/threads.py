"""One thread policy for Numba, BLAS and torch.

Numba's parallel loops, the BLAS behind numpy/scipy and torch each start a thread per core by
default. On a shared machine, or when the package runs several worker processes, these pools
oversubscribe the cores and a run slows down 10-20x (threads spin waiting for each other).
This module is the one place that sets the counts:

* :func:`set_num_threads` sets this process's Numba, BLAS and torch threads (default: the cores
  the process may use, ``os.sched_getaffinity``);
* :func:`get_num_threads` reads back what each library uses now;
* :func:`worker_env` is the environment of spawned worker processes (one thread each), and
  :func:`init_worker` the initialiser that pins a worker after its libraries are loaded.
* within the count in force, :class:`ThreadChoice` runs a kind of parallel pass on all threads
  or on one, whichever its own timing finds faster (on a busy machine one thread can be 10x
  faster; on a quiet one all are); :func:`one_thread` runs a block on one thread.

torch is never imported by set_num_threads: if it is loaded, its count is set; the setting is remembered so
that the torch critic and the WGAN-GP reference apply it (:func:`torch_thread_scope`) when they import torch later.
"""

from __future__ import annotations

import contextlib

import logging
import os
import sys
import time

from ._validation import as_int

logger = logging.getLogger(__name__)

__all__ = ["set_num_threads", "get_num_threads", "available_cores", "worker_env", "init_worker", "THREAD_ENV",
           "ThreadChoice", "one_thread"]

#: Environment of every worker process: one thread each for OpenMP, OpenBLAS, MKL and Numba.
#: (Read when a library loads, so it must be in the worker's environment before it starts.)
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}

# The policy in force: {"n": int, "blas_limiter": threadpoolctl object or None}. The limiter is
# kept alive here: threadpoolctl's limits last while it is referenced.
_POLICY = {}


def available_cores():
    """The number of cores this process may run on (its CPU affinity; ``os.cpu_count()`` where
    the platform has no affinity).

    Returns
    -------
    int
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def set_num_threads(n=None):
    """Set the threads of Numba, BLAS and torch in this process.

    Parameters
    ----------
    n : int, optional
        Threads per library, at least 1. Default: :func:`available_cores`. Numba cannot go above
        ``numba.config.NUMBA_NUM_THREADS`` (fixed when Numba loads, from ``NUMBA_NUM_THREADS``
        or the machine's cores); a larger ``n`` is clipped to it for Numba.

    Returns
    -------
    dict
        The counts in force afterwards, as :func:`get_num_threads`.

    Notes
    -----
    BLAS is limited through ``threadpoolctl`` (installed with scikit-learn, or
    ``pip install threadpoolctl``); without it, on Linux, every OpenBLAS loaded in the process
    (numpy's and scipy's) is set through its own C API; other BLAS builds then keep the count
    their environment gave them (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``). torch is set only if it is already
    imported; the count is remembered and applied by w1flow's torch code when it loads torch.
    Explicit ``num_threads`` arguments (e.g. of ``TorchCriticPotential``) take precedence.
    """
    n = available_cores() if n is None else as_int(n, "n", 1)
    import numba

    k = min(n, numba.config.NUMBA_NUM_THREADS)
    if k < n:
        logger.debug("numba threads clipped to NUMBA_NUM_THREADS=%d (asked %d)", k, n)
    numba.set_num_threads(k)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limiter = None
        # numpy's and scipy's OpenBLAS would otherwise keep one spinning thread per core (measured:
        # `check --quick` burnt 26 s of CPU in 16 s idle and took 3.3x as long beside two busy
        # processes); their own C API sets the count where threadpoolctl is absent
        if not _openblas_set(n):
            logger.debug("threadpoolctl is not installed and no OpenBLAS was found: BLAS threads left "
                         "as the environment set them")
    else:
        limiter = threadpool_limits(limits=n)
    _POLICY.update(n=n, blas_limiter=limiter)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    logger.debug("threads set to %d", n)
    return get_num_threads()


#: OpenBLAS's setter and getter, by the symbol suffixes of its builds (plain, 64-bit-integer, and
#: the scipy-openblas wheels that numpy and scipy bundle)
_OPENBLAS_SYMBOLS = [("openblas_set_num_threads", "openblas_get_num_threads"),
                     ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                     ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                     ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads")]


def _openblas_libraries():
    """``(set, get)`` C functions of every OpenBLAS loaded in this process (Linux: /proc/self/maps).

    The fallback of :func:`set_num_threads` where threadpoolctl is not installed; empty elsewhere.
    """
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _OPENBLAS_SYMBOLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                found.append((setter, getter))
                break
    return found


def _openblas_set(n):
    """Set every loaded OpenBLAS to ``n`` threads through its C API; False if none was found."""
    libs = _openblas_libraries()
    for setter, _ in libs:
        setter(int(n))
    return bool(libs)


def get_num_threads():
    """The threads each library uses in this process now.

    Returns
    -------
    dict
        ``numba`` (``numba.get_num_threads()``), ``blas`` (the largest count of the BLAS libraries
        threadpoolctl finds, or without it of the OpenBLAS libraries loaded (Linux); None if
        neither can tell), ``torch`` (only if torch is imported:
        it is never imported just to ask) and ``policy`` (the last :func:`set_num_threads`
        count, None if it was not called).
    """
    import numba

    out = {"numba": numba.get_num_threads(), "blas": None}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        counts = [get() for _, get in _openblas_libraries()]
        out["blas"] = max(counts) if counts else None
    else:
        blas = [d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"]
        out["blas"] = max(blas) if blas else None
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    out["policy"] = _POLICY.get("n")
    return out


def torch_threads(num_threads=None):
    """The torch thread count w1flow's torch code should use: ``num_threads`` if given, else the
    policy's (None: leave torch's own)."""
    return num_threads if num_threads is not None else _POLICY.get("n")


@contextlib.contextmanager
def torch_thread_scope(num_threads=None):
    """Run the block with torch on :func:`torch_threads` ``(num_threads)`` intra-op threads (when
    that is not None), and give torch back its own count afterwards, also on an exception.

    The one home of this save-set-restore: the torch critic's updates and the plain WGAN-GP loop
    use it, so a caller's torch setting survives either.
    """
    import torch  # only torch code calls this, with torch loaded

    before = torch.get_num_threads()
    n = torch_threads(num_threads)
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def worker_env(n=1):
    """The environment variables that give a spawned worker process ``n`` threads per library.

    Parameters
    ----------
    n : int, default 1
        Threads per library in the worker.

    Returns
    -------
    dict
        A new dict of ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and
        ``NUMBA_NUM_THREADS``, to add to the worker's environment.
    """
    n = as_int(n, "n", 1)
    return {k: str(n) for k in THREAD_ENV}


def init_worker(n=1):
    """Pin this (worker) process to ``n`` threads per library, after its libraries are loaded.

    The worker's environment (:func:`worker_env`) covers libraries loaded after it starts; this
    covers those loaded before (numpy's BLAS in a forked or reused worker). Called again at the
    start of every cell: Numba's count belongs to the calling thread, and a Dask worker may run
    cells on a new thread.
    """
    set_num_threads(n)


@contextlib.contextmanager
def one_thread():
    """Run the enclosed Numba kernels on one thread.

    ``numba.set_num_threads`` is thread-local; the count in force before is restored on exit."""
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


class ThreadChoice:
    """All of Numba's threads or one for a kind of pass, chosen by timing the passes themselves.

    Why: a parallel region ends when its slowest thread does. On a quiet machine the uncapped demo
    flow is 10-29 % slower with its passes on one thread (n = 500 ... 10^4, 2 cores); while another
    process keeps a core busy, every region can wait a scheduler time slice for the thread that has
    no core, and the same flow took 9.0 s instead of 0.41 s at n = 500 and 15.9 s instead of 2.9 s
    at n = 2000 with the passes on both threads (2026-12-06, ``benchmarks/bench_busy.py``).

    So, for each size class (the bit length of the pass's pairs), a pass runs on one thread and
    the next on all, each timed per unit of work, and the passes after them run the faster way
    until the next pair of probes, ``period`` passes later. When one way was more than 1.5x faster
    twice running, the period doubles (up to ``max_period``: a probe of the slow way costs); when
    the faster way changes, it is ``period`` again. The passes' outputs must not depend on the
    number of threads (each row written by one thread); only the time changes. A count of one
    thread in force (``w1flow.set_num_threads(1)``, workers) is left alone.
    """

    def __init__(self, period=32, max_period=512):
        # two probes, then at least one pass the chosen way
        self.period = as_int(period, "period", minimum=3)
        self.max_period = as_int(max_period, "max_period", minimum=self.period)
        self._state = {}  # size class (bit length of the pairs) -> _SizeClass

    @contextlib.contextmanager
    def __call__(self, pairs):
        """Context for one pass over ``pairs`` pairs; set ``.work`` on the yielded record (any
        measure proportional to the pass's work, e.g. pairs checked) to normalise its time."""
        import numba

        rec = _PassRecord()
        if numba.get_num_threads() == 1:
            yield rec
            return
        size = int(pairs).bit_length()
        st = self._state.get(size)
        if st is None:
            st = self._state[size] = _SizeClass(self.period)
        phase = st.phase
        st.phase = (phase + 1) % st.period
        one = phase == 0 or (phase > 1 and st.one)
        t0 = time.perf_counter()
        try:
            with one_thread() if one else contextlib.nullcontext():
                yield rec
        finally:
            dt = time.perf_counter() - t0
            rate = dt / max(rec.work, 1)
            if phase == 0:
                st.rate_one = rate
            elif phase == 1:
                before = st.one if st.rate_all is not None else None
                st.rate_all = rate
                st.one = st.rate_all > st.rate_one
                clear = max(st.rate_one, st.rate_all) > 1.5 * min(st.rate_one, st.rate_all)
                st.period = min(2 * st.period, self.max_period) if clear and st.one == before else self.period

    def uses_one_thread(self, pairs):
        """Whether passes of this size now run on one thread (None before their first probes)."""
        st = self._state.get(int(pairs).bit_length())
        return None if st is None or st.rate_all is None else st.one


class _SizeClass:
    """:class:`ThreadChoice`'s state for one size class of passes."""

    __slots__ = ("phase", "rate_one", "rate_all", "one", "period")

    def __init__(self, period):
        self.phase = 0  # passes since the probes began, modulo the period
        self.rate_one = self.rate_all = None  # seconds per unit of work in the last probes
        self.one = False  # the passes between probes run on one thread
        self.period = period  # passes from one pair of probes to the next, now


class _PassRecord:
    """What a pass tells :class:`ThreadChoice`: its work (any measure proportional to it)."""

    work = 1
