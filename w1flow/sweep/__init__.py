"""Parameter sweeps (``w1flow sweep``): grids, cell kinds, executors and a resumable store.

A sweep config is a ``w1flow run`` config (:mod:`w1flow.config`: a particle flow) or a
``w1flow train`` config (:mod:`w1flow.generative.config`: a generator run, recognised by its
``[generator]`` table) plus a ``[sweep]`` table of grids. Each key names a config entry as
``"table.key"`` and holds the list of its values; the cells are the Cartesian product of the
grids (the last key varies fastest)::

    [sweep]
    "solver.kind" = ["euler", "capped_euler"]
    "run.dt" = [0.1, 0.05]
    "data.seed" = [0, 1, 2]          # 2 x 2 x 3 = 12 cells

(Unquoted dotted keys, ``solver.kind = [...]``, mean the same.) A key naming a whole table takes
a list of tables (each replaces the base config's: ``method = [{name = "wgan"}, {name = "w1fe",
K = 8}]``), and a key listing entries separated by commas sets them in step (``"potential,
train.n_iter" = [[{kind = "exact"}, 300], [{kind = "critic"}, 501]]``). Every cell's config is
validated before anything runs; an unknown or malformed key is an error that names it.

The **store** is a directory (the config's ``[output] dir``, default ``w1flow-sweep``)::

    store/sweep.json              the sweep: its base config, grids and cells (written at start)
    store/cells/<fp>.npz          a finished cell: FlowResult.save (TrainResult.save) format; metadata["sweep"]
                                  holds its parameters, fingerprint, host, timings
    store/cells/<fp>.error.json   a cell that raised: its traceback (and earlier attempts)
    store/summary.csv, summary.md, summary.png      built from the store by :func:`summarize`

A record counts only if it loads whole and is the record of its cell (its fingerprint, config
and parameters); any other file there is logged, renamed ``<name>.unreadable`` and its cell runs
again, and :func:`summarize` skips it and names it.

``<fp>`` is the cell's :func:`fingerprint`: a hash of its full config (the ``[output]`` table
aside; data files by the hash of their content, not their path) and the w1flow version. Each
record is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so a record is either complete or absent, and a cell that runs twice (a
worker presumed dead that still finishes) leaves one record. A re-run skips finished cells and,
unless ``retry_failed``, cells that raised.

Executors: a local :class:`concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
spawned with one numpy/BLAS/Numba thread each), the calling process (``workers=1``), or Dask
distributed (``scheduler=ADDRESS``, ``local_cluster=N`` or ``client=``; ``pip install
"w1flow[dist]"``). A Dask worker that dies mid-cell has its cell re-run elsewhere by the
scheduler; see ``docs/sweeps.md`` for clusters (dask-jobqueue).

The package, one module per part:

* :mod:`~w1flow.sweep.grid`: the ``[sweep]`` table → validated :class:`Cell` s and their fingerprints;
* :mod:`~w1flow.sweep.kinds`: what a cell runs, and how its record is saved, read and checked
  (a flow → :class:`~w1flow.FlowResult`, a generator run → :class:`~w1flow.generative.TrainResult`);
* :mod:`~w1flow.sweep.store`: the resumable store (records, failures, temporaries, set-asides);
* :mod:`~w1flow.sweep.executor`: this process, a spawned process pool, or Dask;
* :mod:`~w1flow.sweep.runner`: :func:`run_sweep` and :func:`run_cell`;
* :mod:`~w1flow.sweep.summary`: :func:`summarize`.
"""

from ..threads import THREAD_ENV
from .executor import _pool_initializer
from .grid import Cell, SweepError, default_store, expand, fingerprint
from .runner import SweepReport, run_cell, run_each, run_sweep
from .store import _read_done, read_store
from .summary import summarize

__all__ = ["SweepError", "Cell", "SweepReport", "expand", "fingerprint", "run_sweep", "default_store", "read_store",
           "summarize", "run_cell", "run_each", "THREAD_ENV"]

# kept importable from w1flow.sweep: the tests check a pool worker's initialiser and a record's checks
_pool_initializer, _read_done
