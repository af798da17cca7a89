"""Command-line interface: ``w1flow demo``, ``run``, ``train``, ``sweep`` and ``check``.

The CLI is the one place that prints; the library only logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "run_demo"]


def run_demo(out="w1flow-demo", n=500, dt=0.05, seed=0, save_every=2, progress=True, gif=True):
    """The main demo: the exact W1 flow from a Gaussian blob to 8 Gaussians.

    Runs the capped exact flow (one LP, each particle along its transport ray) and, for
    contrast, uncapped forward Euler with the same step, which chatters near the data at about
    ``dt/2``. Writes ``snapshots.png``, ``w1.png`` (log scale), ``flow.gif`` and ``summary.json``
    into ``out`` and returns the summary dict.
    """
    import matplotlib

    matplotlib.use("Agg")
    from . import CappedEuler, Euler, SaveAt, W1Flow, simulate
    from .closed_forms import capped_w1_closed_form
    from .datasets import eight_gaussians, gaussian_blob
    from .plotting import animate_flow, plot_snapshots, plot_w1

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0 = gaussian_blob(n, center=(3.0, 0.0), std=0.5, seed=rng)
    y = eight_gaussians(n, radius=2.0, std=0.05, seed=rng)
    problem = W1Flow(y)
    # The flow ends when the longest transport ray is travelled: read it off the initial plan.
    _, _, rays = problem.potential(x0, None, problem.target, problem.target_weights).rays()
    t_hit = float(rays.max())
    t1 = float(np.ceil((t_hit + 2 * dt) / dt) * dt)
    t_start = time.perf_counter()
    saveat = SaveAt(every=save_every)
    capped = simulate(problem, x0, t1, dt, solver=CappedEuler(), saveat=saveat, progress=progress)
    euler = simulate(problem, x0, t1, dt, solver=Euler(), saveat=saveat, progress=progress)
    closed = capped_w1_closed_form(x0, None, y, None, capped.ts)  # from its own LP
    plot_snapshots(capped, y, out / "snapshots.png", title=f"Exact W1 flow (capped Euler), n = {n}")
    plot_w1({"capped Euler (exact flow)": capped, f"forward Euler, dt = {dt}": euler}, out / "w1.png",
            closed_form=(capped.ts, closed))
    if gif:
        animate_flow(capped, y, out / "flow.gif")
    late = euler.ts >= t_hit + dt
    summary = {
        "n": n,
        "dt": dt,
        "seed": seed,
        "t1": t1,
        "longest_transport_distance": t_hit,
        "w1_initial": float(capped.w1[0]),
        "capped": {
            "status": capped.status,
            "w1_final": float(capped.w1[-1]),
            "max_abs_error_vs_closed_form": float(np.max(np.abs(capped.w1 - np.array(closed)))),
            "lp_solves": capped.n_lp_solves,
            "wall_time_s": capped.wall_time,
        },
        "euler": {
            "status": euler.status,
            "w1_final": float(euler.w1[-1]),
            "w1_plateau_max_after_arrival": float(euler.w1[late].max()) if np.any(late) else None,
            "lp_solves": euler.n_lp_solves,
            "wall_time_s": euler.wall_time,
        },
        "total_seconds": time.perf_counter() - t_start,
        "files": ["snapshots.png", "w1.png"] + (["flow.gif"] if gif else []) + ["summary.json"],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _demo(args):
    summary = run_demo(out=args.out, n=args.n, dt=args.dt, seed=args.seed, progress=not args.quiet,
                       gif=not args.no_gif)
    out = Path(args.out).resolve()
    print(f"Exact W1 flow, n = {summary['n']}: W1 {summary['w1_initial']:.4f} -> "
          f"{summary['capped']['w1_final']:.3g} (capped Euler, {_count(summary['capped']['lp_solves'], 'LP')}); "
          f"forward Euler dt = {summary['dt']} ends at {summary['euler']['w1_final']:.4f}.")
    print(f"Wrote {', '.join(summary['files'])} to {out}")
    return 0


def _check(args):
    """Run the paper checks and write the report; exit status 1 unless every check holds.

    Sets this process's threads first (``--threads``, default 1): Numba, BLAS and torch would
    otherwise each start a pool per core and fight on a busy machine. The checks are many small
    problems that gain little from threads: ``check --quick`` measured 19.6 s with one thread and
    360 s with two on 2 cores beside one other busy process. A
    SIGTERM is handled as Ctrl-C: the report keeps the checks finished so far.
    """
    from .paper_checks import exit_code, run_checks
    from .threads import set_num_threads

    names = None if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    mode = "full" if args.full else "quick"
    threads = set_num_threads(args.threads)
    print(f"threads: {threads['policy']} (numba {threads['numba']}, blas {threads['blas']})", flush=True)

    try:
        reports = run_checks(names, mode=mode, out=args.out, progress=not args.quiet)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (run_checks turns both into KeyboardInterrupt)
        print(f"interrupted; {Path(args.out) / 'report.md'} and report.json hold the finished checks",
              file=sys.stderr)
        return 130
    for r in reports:
        print(f"{r.verdict:>12} (expected {r.expected}; broken run: {r.broken_verdict})  "
              f"{'holds' if r.holds else 'DOES NOT HOLD'}  {r.title}: {r.key}")
    print(f"wrote {Path(args.out) / 'report.md'} and report.json")
    return exit_code(reports)


def _registry_names():
    """The names a config's ``kind`` keys take (:mod:`w1flow.registry`), one line per table."""
    from . import registry

    return "".join(f"[{table}] kind = {', '.join(names)}\n" for table, names in registry.TABLES.items())


def _run(args):
    """Run a TOML config (w1flow.config) and print its summary."""
    from .config import run_config

    res = run_config(args.config, out=args.out, progress=not args.quiet)
    w1 = "" if res.w1 is None else f", W1 {res.w1[0]:.4g} -> {res.w1[-1]:.4g}"
    print(f"{res.status}: t = {res.ts[-1]:.4g} after {_count(res.n_steps, 'step')}{w1} "
          f"({res.wall_time:.3g} s); wrote result.npz, summary.json and figures")
    return 0 if res.success else 1


def _train(args):
    """Train a generator from a TOML config (w1flow.generative.config) and save its TrainResult."""
    from . import __version__
    from .generative.config import load_train_config, run_train_config

    cfg = load_train_config(args.config)
    out = Path(args.out if args.out is not None else cfg["output"].get("dir", "w1flow-train"))
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {str(out)!r} is a file; give another --out (or [output] dir).")
    res = run_train_config(cfg, progress=not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    path = res.save(out / "result.npz", metadata={"config": cfg, "w1flow": __version__})
    _, w1 = res.w1
    w1 = f", held-out W1 {w1[0]:.4g} -> {w1[-1]:.4g}" if w1.size else ""
    print(f"{res.status}: {_count(res.n_iter, 'outer step')}, {_count(res.generator_steps, 'generator step')}"
          f"{w1} ({res.wall_time:.3g} s); wrote {path}")
    if not res.success:
        print(res.message, file=sys.stderr)
    return 0 if res.success else 1


def _sweep(args):
    """Run a sweep config (w1flow.sweep) into its store, or only rebuild its summary."""
    from .sweep import default_store, run_sweep, summarize

    if args.summary_only:
        store = args.out if args.out is not None else default_store(args.config)
        rows = summarize(store)
        print(f"{_count(len(rows), 'cell')} in {store}; wrote summary.csv, summary.md and summary.png")
        return 0
    report = run_sweep(args.config, store=args.out, workers=args.workers, scheduler=args.scheduler,
                       local_cluster=args.local_cluster, retry_failed=args.retry_failed, progress=not args.quiet,
                       dry_run=args.dry_run)
    if args.dry_run:
        print(f"{_count(len(report.cells), 'cell')}, all valid: {report.skipped} in {report.store}, "
              f"{report.to_run} to run")
        return 0
    statuses = {}
    for row in report.rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    print(f"{_count(len(report.cells), 'cell')}: ran {report.ran}, skipped {report.skipped} already in the store, "
          f"{len(report.failed)} raised ({report.wall_time:.3g} s). Store: "
          + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    print(f"wrote {Path(report.store) / 'summary.md'}, summary.csv and summary.png")
    if report.failed:
        print(f"failed cells keep their traceback in {Path(report.store) / 'cells'}/<fingerprint>.error.json; "
              "re-run with --retry-failed to run them again", file=sys.stderr)
    return 1 if report.failed else 0


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def main(argv=None):
    """Entry point of the ``w1flow`` console script."""
    parser = argparse.ArgumentParser(prog="w1flow", description="Wasserstein-1 gradient flows of particles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="exact W1 flow from a Gaussian blob to 8 Gaussians")
    demo.add_argument("--out", default="w1flow-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--n", type=int, default=500, help="number of particles and data points")
    demo.add_argument("--dt", type=float, default=0.05, help="time step")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--no-gif", action="store_true", help="skip the animation")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    check = sub.add_parser("check", help="run the paper checks: every claim with a measured verdict")
    size = check.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small instances (the default; under a minute on 2 cores)")
    size.add_argument("--full", action="store_true", help="larger instances and the slow checks")
    check.add_argument("--only", help="comma-separated subset of the checks (see w1flow.paper_checks.CHECKS)")
    check.add_argument("--out", default="w1flow-checks", help="output folder (default: %(default)s)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.add_argument("--threads", type=_positive_int, default=1,
                       help="threads of Numba, BLAS and torch in this run (default: 1; the checks are small "
                            "problems, and threads that spin fight on a busy machine)")
    check.set_defaults(func=_check)
    run = sub.add_parser(
        "run", help="run a flow from a TOML config",
        description="Run the flow a TOML config describes and write result.npz (FlowResult.save), "
                    "summary.json and figures. The config's tables and keys are documented in "
                    "w1flow.config; unknown keys are errors.",
        epilog="example config:\n  [data]\n  dataset = \"eight_gaussians\"\n  n = 500\n  [particles]\n"
               "  dataset = \"gaussian_blob\"\n  n = 500\n  [solver]\n  kind = \"capped_euler\"\n"
               "  [run]\n  t1 = 5.0\n  dt = 0.05\n\nthen: w1flow run flow.toml --out my-run\n\n"
               f"{_registry_names()}\nexamples of every problem kind: examples/configs/ in the source tree",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", help="the TOML file")
    run.add_argument("--out", help="output folder (default: the config's [output] dir, else w1flow-run)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    train = sub.add_parser(
        "train", help="train a generator from a TOML config",
        description="Train the generator a TOML config describes (tables [generator], [data], [potential], "
                    "[method], [optimizer], [batches], [evaluation], [train], [output]; documented in "
                    "w1flow.generative.config and docs/generative.md) and write result.npz (TrainResult.save).",
        epilog="example config:\n  [generator]\n  hidden = [64, 64]\n  [data]\n  target = \"8 Gaussians\"\n"
               "  n = 20000\n  held_out = 2000\n  [potential]\n  kind = \"exact\"\n  [method]\n  name = \"w1fe\"\n"
               "  K = 8\n  [evaluation]\n  every = 50\n  [train]\n  n_iter = 300\n\n"
               "then: w1flow train gen.toml --out my-run",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("config", help="the TOML file")
    train.add_argument("--out", help="output folder (default: the config's [output] dir, else w1flow-train)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)
    sweep = sub.add_parser(
        "sweep", help="run a grid of run (or generator) configs into a resumable result store",
        description="Expand the [sweep] grids of a run config (docs/sweeps.md), validate every cell, and run "
                    "the cells not yet in the store: locally in worker processes, or on Dask.",
        epilog="example: a run config plus\n  [sweep]\n  \"solver.kind\" = [\"euler\", \"capped_euler\"]\n"
               "  \"run.dt\" = [0.1, 0.05]\n  \"data.seed\" = [0, 1, 2]\n\n"
               "then: w1flow sweep sweep.toml --out my-sweep --workers 2",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("config", help="the TOML file: a run (or generator) config with a [sweep] table")
    sweep.add_argument("--out", help="the result store (default: the config's [output] dir, else w1flow-sweep)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes (default: the usable cores; 1 = serial)")
    where.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://host:8786 (needs w1flow[dist])")
    where.add_argument("--local-cluster", type=int, metavar="N",
                       help="start a Dask LocalCluster of N single-threaded workers (needs w1flow[dist])")
    sweep.add_argument("--retry-failed", action="store_true", help="run again the cells recorded as failed")
    sweep.add_argument("--summary-only", action="store_true", help="only rebuild the summary from the store")
    sweep.add_argument("--dry-run", action="store_true", help="validate the cells and count them; run nothing")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_sweep)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    # bad input (ConfigError, SweepError and ResultFileError are ValueErrors), a file that cannot be
    # read or written, an array too large: one line and exit status 2, as argparse's own errors
    except (ValueError, TypeError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(exc).split())}\n")
    except MemoryError as exc:
        parser.exit(2, f"{parser.prog}: error: not enough memory: {' '.join(str(exc).split()) or type(exc).__name__}; "
                       "lower n (or use an oracle that needs less memory).\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
