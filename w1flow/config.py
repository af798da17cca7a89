"""Run configurations: a TOML file that says what flows, how, and what to write (``w1flow run``).

A config has six tables; every key is checked, and an unknown key is an error that names it and
lists the allowed ones; a value of the wrong type is an error that names its table and key.
Options of a problem, a dataset, an oracle or a solver are the keyword arguments of its
constructor (checked against its signature). The ``kind`` names are those of
:mod:`w1flow.registry` (``PROBLEMS``, ``ORACLES``, ``SOLVERS``)::

    [problem]
    kind = "w1"                      # w1, w2, mean_field, sde, second_order, monoflow, js

    [data]                           # the target: a built-in dataset ...
    dataset = "eight_gaussians"      # eight_gaussians, twenty_five_gaussians, two_moons,
    n = 500                          #   swiss_roll, ring, gaussian_blob
    seed = 1
    # ... or a file: file = "data.npy" (or .npz with key = "y"), shape (m, d)

    [particles]                      # the initial cloud x0, the same way
    dataset = "gaussian_blob"
    n = 500
    seed = 0
    center = [3.0, 0.0]              # an option of gaussian_blob

    [potential]                      # the oracle (W1 only)
    kind = "exact"                   # exact, entropic, quantile, critic; then its options

    [solver]
    kind = "capped_euler"            # euler (the default), capped_euler, heun, rk4, euler_maruyama
                                     # (the default for an SDE), milstein, symplectic_euler,
                                     # velocity_verlet; then its options

    [run]
    t1 = 5.0
    dt = 0.05
    save_every = 2                   # SaveAt(every=...)
    w1 = "auto"                      # "auto", "lp" or "none"

    [output]
    dir = "w1flow-run"
    snapshots = true                 # snapshots.png
    w1_plot = true                   # w1.png (W1 flows)
    gif = false                      # flow.gif

Problems without a data measure (``mean_field``, ``sde``, ``second_order``) take no ``[data]``
table; their functions are named in ``[problem]`` as ``"file.py:name"`` (a Python file, relative
to the config's folder) or ``"package.module:name"`` (an importable module): the keys ``drift``,
``diffusion``, ``diffusion_dx``, ``acceleration`` and MonoFlow's ``h`` (which also takes a name of
:mod:`w1flow.divergences`). Loading such a file runs it, as ``python file.py`` would. An SDE::

    [problem]
    kind = "sde"
    drift = "drifts.py:mean_reverting"   # drift(x, weights, t) -> (n, d)
    diffusion = 0.5                      # a number (additive noise) or a "file.py:name" function
    seed = 1                             # the Brownian path's seed

    [particles]                          # x0; for a second-order system the states [q, v] (2d columns)
    dataset = "gaussian_blob"
    n = 200
    center = [0.0]

Runnable examples of every problem kind are in ``examples/configs/``.

:func:`load_config` validates a file (or a dict); :func:`run_config` runs it and writes
``result.npz`` (:meth:`FlowResult.save`, with the config and the package versions),
``summary.json`` and the figures.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import numbers
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._files import read_toml
from ._validation import as_int, as_nonnegative_float, as_positive_float
from .registry import ORACLES, PROBLEMS, SOLVERS

logger = logging.getLogger(__name__)

__all__ = ["load_config", "run_config", "ConfigError", "absolute_paths"]


class ConfigError(ValueError):
    """A run configuration is invalid; the message names the table and key."""


_TABLES = {
    "problem": None,  # problem options are checked against the problem's signature
    "data": None,  # dataset options are checked against the dataset's signature
    "particles": None,
    "potential": None,
    "solver": None,
    "run": {"t1", "dt", "save_every", "w1", "max_steps"},
    "output": {"dir", "snapshots", "w1_plot", "gif"},
}
#: The tables of a run config and the keys each accepts (None: the options of what it builds,
#: checked by their signature): read by ``w1flow sweep`` to check its grid keys.
TABLES = _TABLES
_REQUIRED = {"particles", "run"}  # and [data] for problems with a data measure
#: Constructor arguments of problems that a config does not give in [problem] (the data come from
#: [data], a W1 flow's oracle from [potential]).
_NOT_PROBLEM_OPTIONS = {"target", "target_weights", "potential", "ratio"}
#: [problem] keys whose string values name a Python object as "file.py:name" or "module:name".
_FUNCTION_KEYS = {"drift", "diffusion", "diffusion_dx", "acceleration", "h"}


def _datasets():
    from . import datasets

    return {name: getattr(datasets, name) for name in
            ("eight_gaussians", "twenty_five_gaussians", "two_moons", "swiss_roll", "ring", "gaussian_blob")}


def _has_data(problem_cls):
    """True for problems that flow toward a data measure (their first argument is ``target``)."""
    return "target" in inspect.signature(problem_cls).parameters


def _default_solver(problem_cls):
    return "euler_maruyama" if problem_cls.stochastic else "euler"


def _checked(table, key, value, check, *args):
    """``check(value, key, *args)`` (a :mod:`w1flow._validation` function), its error naming the table."""
    try:
        return check(value, key, *args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{table}] {exc}") from None


def _check_seeds(cfg):
    """A seed is an integer: refuse a float (or a bool) naming its table, before numpy sees it."""
    for table, entries in cfg.items():
        if isinstance(entries, dict) and "seed" in entries:
            _checked(table, "seed", entries["seed"], as_int, 0)


def _check_run(run):
    for key in ("t1", "dt"):
        if key not in run:
            raise ConfigError(f"[run] needs {key}.")
    _checked("run", "t1", run["t1"], as_nonnegative_float)
    _checked("run", "dt", run["dt"], as_positive_float)
    for key in ("save_every", "max_steps"):
        if key in run:
            _checked("run", key, run[key], as_int, 1)
    if not isinstance(run.get("w1", "auto"), str):
        raise ConfigError(f"[run] w1 must be a string ('auto', 'lp' or 'none'), got {type(run['w1']).__name__}.")


def _make(table, factory, opts):
    """``factory(**opts)``, its TypeError or ValueError (a bad option value) naming the table."""
    try:
        return factory(**opts)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{table}] {exc}") from None


def _reference(key, ref, base):
    """The Python object a "file.py:name" (relative to ``base``) or "package.module:name" string names."""
    import importlib
    import importlib.util
    import sys

    where, _, name = ref.rpartition(":")
    if not where or not name:
        raise ConfigError(f"[problem] {key} = {ref!r} must name a function as 'file.py:name' or "
                          "'package.module:name'.")
    if where.endswith(".py"):
        path = Path(where)
        path = path if path.is_absolute() else Path(base) / path
        if not path.is_file():  # missing, or a folder
            raise ConfigError(f"[problem] {key}: file {str(path)!r} does not exist.")
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]  # the same in every process
        modname = f"_w1flow_config_{path.stem}_{digest}"
        module = sys.modules.get(modname)
        if module is None:
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module  # the functions' module, for pickling and fingerprints
            spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigError(f"[problem] {key}: cannot import {where!r}: {exc}") from None
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"[problem] {key}: {where!r} has no {name!r}.")
        obj = getattr(obj, part)
    return obj


def absolute_paths(cfg, base):
    """A copy of ``cfg`` whose relative file names are made absolute against ``base``: the
    ``[data]`` and ``[particles]`` files and the ``"file.py:name"`` functions of ``[problem]`` (for
    a config that is run from another folder, e.g. by a sweep's workers)."""
    import copy

    out = copy.deepcopy(dict(cfg))
    for table in ("data", "particles"):
        spec = out.get(table)
        if isinstance(spec, dict) and isinstance(spec.get("file"), str) and not Path(spec["file"]).is_absolute():
            spec["file"] = str((Path(base) / spec["file"]).resolve())
    spec = out.get("problem")
    for key in _FUNCTION_KEYS & set(spec if isinstance(spec, dict) else ()):
        value = spec[key]
        if isinstance(value, str) and ":" in value:
            where, _, name = value.rpartition(":")
            if where.endswith(".py") and not Path(where).is_absolute():
                spec[key] = f"{(Path(base) / where).resolve()}:{name}"
    return out


def _problem_options(spec, base):
    """The problem's constructor keywords from [problem], with function references resolved."""
    opts = {k: v for k, v in spec.items() if k != "kind"}
    for key in _FUNCTION_KEYS & set(opts):
        if isinstance(opts[key], str) and ":" in opts[key]:
            opts[key] = _reference(key, opts[key], base)
    return opts


def _check_keys(table, given, allowed, what=""):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [{table}]{what}; allowed: {', '.join(sorted(allowed))}.")


def _options_of(table, cfg, factory, reserved, exclude=()):
    """The keyword options in ``cfg`` for ``factory``, checked against its signature (less ``exclude``)."""
    params = inspect.signature(factory).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    allowed = {k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - set(exclude)
    opts = {k: v for k, v in cfg.items() if k not in reserved}
    if not accepts_any:
        _check_keys(table, opts, allowed | reserved, f" (options of {factory.__name__})")
    return opts


def load_config(config):
    """Validate a config (a TOML file's path, or the same as a dict); return it as a dict.

    Raises :class:`ConfigError` naming the first unknown or missing key, or a bad value.
    """
    cfg = read_toml(config, ConfigError) if isinstance(config, (str, Path)) else dict(config)
    _check_keys("top level", cfg, _TABLES, "")
    for table in _REQUIRED:
        if table not in cfg:
            raise ConfigError(f"the config needs a [{table}] table.")
    for table, allowed in _TABLES.items():
        if table in cfg and not isinstance(cfg[table], dict):
            raise ConfigError(f"[{table}] must be a table of keys, got {cfg[table]!r}.")
        if allowed is not None and table in cfg:
            _check_keys(table, cfg[table], allowed)
    _check_seeds(cfg)
    kind = cfg.get("problem", {}).get("kind", "w1")
    if kind not in PROBLEMS:
        raise ConfigError(f"[problem] kind must be one of {', '.join(PROBLEMS)}, got {kind!r}.")
    problem_cls = PROBLEMS[kind]
    _options_of("problem", cfg.get("problem", {}), problem_cls, {"kind"}, exclude=_NOT_PROBLEM_OPTIONS)
    if _has_data(problem_cls) and "data" not in cfg:
        raise ConfigError("the config needs a [data] table.")
    if not _has_data(problem_cls) and "data" in cfg:
        raise ConfigError(f"[data] is for problems with a data measure; {problem_cls.__name__} (kind = "
                          f"{kind!r}) has none: drop [data].")
    for table in ("data", "particles"):
        if table in cfg:
            _cloud_spec(table, cfg[table])
    if "potential" in cfg:
        if kind != "w1":
            raise ConfigError(f"[potential] is for W1 flows; {problem_cls.__name__} (kind = {kind!r}) takes no "
                              "oracle.")
        name = cfg["potential"].get("kind", "exact")
        if name not in ORACLES:
            raise ConfigError(f"[potential] kind must be one of {', '.join(ORACLES)}, got {name!r}.")
        _options_of("potential", cfg["potential"], ORACLES[name], {"kind"})
    name = cfg.get("solver", {}).get("kind", _default_solver(problem_cls))
    if name not in SOLVERS:
        raise ConfigError(f"[solver] kind must be one of {', '.join(SOLVERS)}, got {name!r}.")
    _options_of("solver", cfg.get("solver", {}), SOLVERS[name], {"kind"})
    run = cfg["run"]
    _check_run(run)
    if run.get("w1", "auto") not in ("auto", "lp", "none"):
        raise ConfigError(f"[run] w1 must be 'auto', 'lp' or 'none', got {run['w1']!r}.")
    return cfg


def _cloud_spec(table, spec):
    if ("dataset" in spec) == ("file" in spec):
        raise ConfigError(f"[{table}] needs exactly one of dataset = '...' or file = '...'.")
    if "file" in spec:
        _check_keys(table, spec, {"file", "key"})
        return
    name = spec["dataset"]
    if name not in _datasets():
        raise ConfigError(f"[{table}] dataset must be one of {', '.join(_datasets())}, got {name!r}.")
    if "n" not in spec:
        raise ConfigError(f"[{table}] needs n (the number of points of {name}).")
    _options_of(table, spec, _datasets()[name], {"dataset"})
    n = spec["n"]
    if isinstance(n, numbers.Real) and not isinstance(n, bool) and np.isfinite(n) and n >= 1:
        _check_memory(table, spec, n)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConfigError(f"[{table}] n must be a whole number >= 1 (e.g. n = 500), got {n!r}.")


def _memory_bytes():
    """This machine's physical memory in bytes (None when it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def _check_memory(table, spec, n):
    """Refuse, before any array is made, a dataset whose points alone exceed the machine's memory."""
    try:  # the dimension of the dataset's points, from a one-point sample with the same options
        dim = _datasets()[spec["dataset"]](**{**{k: v for k, v in spec.items() if k != "dataset"}, "n": 1}).shape[1]
    except Exception:  # bad options: reported by the real build, with its own message
        dim = 2
    need, have = float(n) * dim * 8, _memory_bytes()
    if have is not None and need > have:
        shown = f"{n:.6g}" if isinstance(n, float) else str(n)
        raise ConfigError(f"[{table}] n = {shown} needs {need / 1e9:.3g} GB for its points alone (n x {dim} "
                          f"float64), more than this machine's {have / 1e9:.3g} GB of memory; lower n.")


def _cloud(table, spec, base):
    if "file" in spec:
        path = Path(spec["file"])
        if not path.is_absolute():
            path = base / path
        if not path.exists():
            raise ConfigError(f"[{table}] file {str(path)!r} does not exist.")
        if not path.is_file():
            raise ConfigError(f"[{table}] file {str(path)!r} is a directory, not a file; give an .npy file (or an "
                              ".npz with key = ...) holding the points as an (m, d) array.")
        return _read_points(table, spec, path)
    opts = {k: v for k, v in spec.items() if k != "dataset"}
    return _make(table, _datasets()[spec["dataset"]], opts)


def _read_points(table, spec, path):
    """The (m, d) or (m,) float array in an .npy or .npz file, or a ConfigError naming the file."""
    where = f"[{table}] file {str(path)!r}"
    try:
        loaded = np.load(path, allow_pickle=False)
        if hasattr(loaded, "files"):  # an .npz archive, whatever its suffix
            with loaded as npz:
                key = spec.get("key", npz.files[0] if len(npz.files) == 1 else None)
                if key is None or key not in npz.files:
                    raise ConfigError(f"[{table}] give key = one of {', '.join(npz.files)} for {path.name}.")
                arr = npz[key]
        else:
            arr = loaded
    except ConfigError:
        raise
    # not a numpy file at all (text, pickle), a truncated or damaged one
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ConfigError(f"{where} is not a numpy array file (.npy, or .npz with key = ...): "
                          f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2) or arr.size == 0:
        raise ConfigError(f"{where} must hold the points as a non-empty numeric array of shape (m, d) (or (m,) "
                          f"for points on a line), got {arr.dtype} of shape {arr.shape}.")
    arr = np.asarray(arr, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{where} holds NaN or infinite coordinates.")
    return arr


def _check_out(out):
    """Refuse an output folder that cannot be made (an existing file on its path), before running."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {str(out)!r} is an existing file; give another --out (or [output] dir).")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"the output folder {str(out)!r} cannot be made: {str(parent)!r} is a file.")


def build(cfg, base="."):
    """The objects a config describes: ``(problem, x0, kwargs for simulate)``.

    Raises :class:`ConfigError` naming the table of a bad option value (the constructors'
    messages) and a solver that cannot run the problem (:meth:`~w1flow.solvers.Solver.check_problem`).
    """
    from .saving import SaveAt

    cfg = load_config(cfg)
    base = Path(base)
    kind = cfg.get("problem", {}).get("kind", "w1")
    problem_cls = PROBLEMS[kind]
    opts = _problem_options(cfg.get("problem", {}), base)
    if _has_data(problem_cls):
        opts["target"] = _cloud("data", cfg["data"], base)
    x0 = _cloud("particles", cfg["particles"], base)
    if kind == "w1":
        pot = cfg.get("potential", {"kind": "exact"})
        opts["potential"] = _make("potential", ORACLES[pot.get("kind", "exact")],
                                  {k: v for k, v in pot.items() if k != "kind"})
    problem = _make("problem", problem_cls, opts)
    sol = cfg.get("solver", {})
    solver = _make("solver", SOLVERS[sol.get("kind", _default_solver(problem_cls))],
                   {k: v for k, v in sol.items() if k != "kind"})
    try:
        solver.check_problem(problem)
    except TypeError as exc:
        raise ConfigError(f"[solver] {exc}") from None
    run = cfg["run"]
    w1 = run.get("w1", "auto")
    kwargs = dict(t1=run["t1"], dt=run["dt"], solver=solver,
                  saveat=SaveAt(every=run.get("save_every", 1), w1=None if w1 == "none" else w1))
    if "max_steps" in run:
        kwargs["max_steps"] = run["max_steps"]
    return problem, x0, kwargs


def run_config(config, out=None, progress=True):
    """Run a config and write its outputs; return the :class:`~w1flow.FlowResult`.

    Parameters
    ----------
    config : str, Path or dict
        A TOML file, or the same content as a dict (relative data files are then read from the
        current folder).
    out : str or Path, optional
        Output folder; default the config's ``[output] dir``, else ``w1flow-run``.
    progress : bool
        Show a progress bar.

    Raises
    ------
    ConfigError
        An invalid config, a data file that is not an array of points, a dataset too large for
        this machine's memory, or an output folder that is an existing file; raised before the
        output folder is made (a run that fails to start leaves no folder behind).
    """
    from . import __version__
    from .simulate import simulate

    base = Path(config).resolve().parent if isinstance(config, (str, Path)) else Path(".")
    cfg = load_config(config)
    problem, x0, kwargs = build(cfg, base)
    outcfg = cfg.get("output", {})
    out = Path(out if out is not None else outcfg.get("dir", "w1flow-run"))
    _check_out(out)
    t1, dt = kwargs.pop("t1"), kwargs.pop("dt")
    res = simulate(problem, x0, t1, dt, progress=progress, **kwargs)
    # made only now: a config that simulate refuses (e.g. dt < 0) leaves no empty folder behind
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.npz", metadata={"config": cfg, "w1flow": __version__})
    summary = {"status": res.status, "message": res.message, "t": float(res.ts[-1]), "n_steps": res.n_steps,
               "n_lp_solves": res.n_lp_solves, "wall_time": res.wall_time,
               "w1_start": None if res.w1 is None else float(res.w1[0]),
               "w1_end": None if res.w1 is None else float(res.w1[-1])}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if outcfg.get("snapshots", True) or outcfg.get("w1_plot", True) or outcfg.get("gif", False):
        import matplotlib

        matplotlib.use("Agg")
        from .plotting import animate_flow, plot_snapshots, plot_w1

        if outcfg.get("snapshots", True):
            plot_snapshots(res, problem.target, out / "snapshots.png")
        if outcfg.get("w1_plot", True) and res.w1 is not None:
            plot_w1({res.solver: res}, out / "w1.png")
        if outcfg.get("gif", False):
            animate_flow(res, problem.target, out / "flow.gif")
    return res
