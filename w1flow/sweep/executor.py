"""Executors of a sweep: this process, a spawned local process pool, or Dask distributed.

Each takes the tasks (plain dicts: they cross processes), ``run`` (a module-level function that
runs one task and writes its record) and ``on_done(task, outcome, driver_error)``. The local
process pool here is the one process-pool site of w1flow: every experiment runs through it.
"""

from __future__ import annotations

import logging
import os
import traceback
from contextlib import contextmanager

from ..threads import available_cores, init_worker, worker_env
from .grid import SweepError

logger = logging.getLogger(__name__)

__all__ = ["run_serial", "run_pool", "run_dask", "dask_client", "default_workers"]


@contextmanager
def _thread_env():
    """Set :data:`~w1flow.threads.THREAD_ENV` in this process's environment while spawning workers; restore it."""
    env = worker_env(1)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def limit_threads():
    """Pin numpy's BLAS, Numba and torch to one thread in this (worker) process, after import too."""
    init_worker(1)


def _pool_initializer():
    limit_threads()


def run_serial(tasks, run, on_done):
    for task in tasks:
        on_done(task, run(task), None)


def run_pool(tasks, workers, run, on_done, recover, max_restarts=3):
    """A spawned process pool; a pool broken by a dying worker is rebuilt for the cells left.

    ``recover(task)`` is the outcome of a task whose record a broken pool may have written
    before it died (None: run it again).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    todo, restarts = list(tasks), 0
    while todo:
        broken = None
        spawn = multiprocessing.get_context("spawn")
        with _thread_env(), ProcessPoolExecutor(min(workers, len(todo)), mp_context=spawn,
                                                initializer=_pool_initializer) as pool:
            futures = {pool.submit(run, t): t for t in todo}
            left = dict(futures)
            try:
                for fut in as_completed(futures):
                    task = futures[fut]
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool as exc:
                        broken = exc
                        continue
                    except Exception:  # e.g. a config that cannot be sent to the worker
                        on_done(task, None, traceback.format_exc())
                    else:
                        on_done(task, outcome, None)
                    left.pop(fut)
            except BaseException:  # an interrupt: drop the queued cells, let the running ones finish
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        todo = []
        for task in left.values():  # a cell may have finished just before the pool broke
            outcome = recover(task)
            if outcome is not None:
                on_done(task, outcome, None)
            else:
                todo.append(task)
        if broken is None or not todo:
            break
        restarts += 1
        if restarts > max_restarts:
            text = "".join(traceback.format_exception(broken))
            for task in todo:
                on_done(task, None, f"the worker processes died {restarts} times running this sweep:\n{text}")
            break
        logger.warning("a worker process died (%s); %d cell(s) left, restarting the pool (%d/%d)",
                       broken, len(todo), restarts, max_restarts)


def run_dask(tasks, client, run, on_done):
    from distributed import as_completed

    futures = {}
    for task in tasks:
        fut = client.submit(run, task, key=f"w1flow-cell-{task['fingerprint']}", pure=False)
        futures[fut] = task
    for fut in as_completed(list(futures)):
        task = futures[fut]
        try:
            outcome = fut.result()
        except Exception:  # KilledWorker (the cell took down workers too often), a lost connection, ...
            on_done(task, None, traceback.format_exc())
        else:
            on_done(task, outcome, None)
        fut.release()


@contextmanager
def dask_client(scheduler, local_cluster, client):
    if client is not None:
        yield client
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError('Dask sweeps need the dist extra: pip install "w1flow[dist]".') from None
    if scheduler is not None:
        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as exc:
            raise SweepError(f"scheduler={scheduler!r}: cannot reach a Dask scheduler there ({exc}); give the "
                             "address a running scheduler prints, e.g. tcp://10.0.0.5:8786.") from None
        with c:
            yield c
        return
    with LocalCluster(n_workers=local_cluster, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=worker_env(1)) as cluster, Client(cluster) as c:
        yield c


def default_workers():
    return available_cores()
