"""The machinery of the paper checks: outcomes, the registry, the runner and the report.

A check is a module of this package with

* ``TITLE`` (the claim in a line), ``CLAIM`` (the claim as the paper or our notes state it),
  ``SOURCE`` (the paper it comes from, by authors, arXiv number and section or numbered result,
  and how much of it is known: *verified* in a public source (the abstract, the ICLR 2025
  reviews), *reconstructed* (the result is known to exist, its formula is a standard
  reconstruction), *our analysis* (derived here and checked numerically) or *inferred*
  (plausible, seen in no source)), ``EXPECTED`` (the verdict we expect:
  ``"PASS"``, or ``"FAIL"`` for a claim we believe false as stated);
* ``THRESHOLDS``: each threshold with the error source it stands for, fixed before the run;
* ``BROKEN``: what the deliberately broken run changes (a wrong sign, a wrong potential, a stale
  plan ...);
* ``run(mode, broken=False, out=None) -> Outcome``;
* optionally ``FULL_ONLY = True`` for a check too slow for ``--quick`` (it is then listed as
  skipped in a quick report and does not count for the exit status).

The runner runs every check twice: as is, and broken. A check *holds* when its verdict is the
expected one and the broken run's verdict is not (a check that cannot fail is a defect).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_write_text

logger = logging.getLogger("w1flow.paper_checks")

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
VERDICTS = (PASS, FAIL, INCONCLUSIVE)
MODES = ("quick", "full")

#: The checks, in the order of the report (module names of this package).
CHECKS = (
    "first_variation",
    "first_variation_degenerate",
    "dissipation",
    "euler_convergence",
    "euler_limit",
    "non_uniqueness",
    "wgan_equivalence",
    "strict_convexity",
    "w2fe_contraction",
    "monoflow",
    "monoflow_particles",
    "gan_js_flow",
    "persistence",
    "naive_persistence",
    "poor_critic",
    "critic_error",
)
SKIPPED = "SKIPPED"
NOT_RUN = "NOT RUN"  # a check an interrupted run did not finish


@dataclass
class Outcome:
    """What one run of a check measured.

    Attributes
    ----------
    verdict : {"PASS", "FAIL", "INCONCLUSIVE"}
    key : str
        The key number(s), one line, for the report's table.
    numbers : dict
        Everything measured (JSON-serialisable).
    details : str
        Markdown for the report (tables of the measured values).
    figures : list of str
        Files written into the output folder.
    """

    verdict: str
    key: str
    numbers: dict = field(default_factory=dict)
    details: str = ""
    figures: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}.")


@dataclass
class CheckReport:
    """One check's result in a report: the claim, both runs and whether the check holds."""

    name: str
    title: str
    source: str
    expected: str
    verdict: str
    key: str
    broken: str
    broken_verdict: str
    holds: bool
    seconds: float
    numbers: dict
    thresholds: dict
    details: str = ""
    figures: list = field(default_factory=list)
    error: str = ""


def verdict_from(ok, bad):
    """PASS when every criterion in ``ok`` holds, FAIL when any in ``bad`` holds, else INCONCLUSIVE.

    ``bad`` lists the outcomes that contradict the claim beyond every stated error source;
    anything between (a threshold missed, but not by enough to contradict the claim) is
    INCONCLUSIVE.
    """
    if any(bad):
        return FAIL
    return PASS if all(ok) else INCONCLUSIVE


def load(name):
    """The check module ``name`` (one of :data:`CHECKS`)."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; choose from {', '.join(CHECKS)}.")
    return importlib.import_module(f"{__package__}.{name}")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def run_check(name, mode="quick", out=None):
    """Run check ``name`` as is and broken; return a :class:`CheckReport` (never raises for the
    check's own errors: they make the report's ``error`` and the check does not hold)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    mod = load(name)
    start = time.perf_counter()
    if mode == "quick" and getattr(mod, "FULL_ONLY", False):
        return CheckReport(name=name, title=mod.TITLE, source=mod.SOURCE, expected=mod.EXPECTED, verdict=SKIPPED,
                           key="too slow for --quick: run `w1flow check --full`", broken=mod.BROKEN,
                           broken_verdict=SKIPPED, holds=True, seconds=0.0, numbers={},
                           thresholds={k: {"value": v[0], "why": v[1]} for k, v in mod.THRESHOLDS.items()})
    try:
        res = mod.run(mode=mode, broken=False, out=out)
        bad = mod.run(mode=mode, broken=True, out=None)
        error = ""
    except Exception:  # a crashing check is reported, not hidden: the check does not hold
        logger.exception("check %s raised", name)
        res = Outcome(INCONCLUSIVE, "raised an exception")
        bad = Outcome(INCONCLUSIVE, "not run")
        error = traceback.format_exc()
    holds = not error and res.verdict == mod.EXPECTED and bad.verdict != mod.EXPECTED
    return CheckReport(name=name, title=mod.TITLE, source=mod.SOURCE, expected=mod.EXPECTED,
                       verdict=res.verdict, key=res.key, broken=mod.BROKEN, broken_verdict=bad.verdict,
                       holds=holds, seconds=time.perf_counter() - start, numbers=_jsonable(res.numbers),
                       thresholds={k: {"value": v[0], "why": v[1]} for k, v in mod.THRESHOLDS.items()},
                       details=res.details, figures=list(res.figures), error=error)


def _not_run(name):
    mod = load(name)
    return CheckReport(name=name, title=mod.TITLE, source=mod.SOURCE, expected=mod.EXPECTED, verdict=NOT_RUN,
                       key="not run: the run was interrupted", broken=mod.BROKEN, broken_verdict=NOT_RUN,
                       holds=False, seconds=0.0, numbers={},
                       thresholds={k: {"value": v[0], "why": v[1]} for k, v in mod.THRESHOLDS.items()})


def write_report(out, reports, mode, names=None, extra=None):
    """Write ``report.json`` and ``report.md`` to ``out`` (atomically, each file whole).

    ``names`` (default: those of ``reports``) lists every check of the run: those without a
    report yet are written as ``NOT RUN``. ``extra`` adds top-level keys to the JSON.
    """
    out = Path(out)
    done = {r.name for r in reports}
    rows = list(reports) + [_not_run(n) for n in (names or []) if n not in done]
    doc = {"mode": mode, "complete": all(r.verdict != NOT_RUN for r in rows), **(extra or {}),
           "checks": [asdict(r) for r in rows]}
    # each file whole: a run killed mid-write leaves the previous report, never half of one
    atomic_write_text(out / "report.json", json.dumps(doc, indent=1))
    atomic_write_text(out / "report.md", report_markdown(rows, mode))


def run_checks(names=None, mode="quick", out="w1flow-checks", progress=False):
    """Run the checks ``names`` (default: all) and write ``report.md`` and ``report.json`` to ``out``.

    Returns the list of :class:`CheckReport`. The report's table has one row per claim: its
    source, the verdict against the expected one, the key number, and the broken run's verdict.
    The report is rewritten after every check, so an interrupted run (Ctrl-C or SIGTERM: while
    the checks run, both raise ``KeyboardInterrupt``) leaves the finished verdicts, the others
    marked ``NOT RUN`` (``"complete": false`` in the JSON); the interrupt is then raised again.
    A check that caught the interrupt itself (``simulate`` returns on one) counts as not run. The
    JSON also records the thread counts the run used (``threads``, see
    :func:`w1flow.get_num_threads`).
    """
    from ..threads import get_num_threads

    names = list(CHECKS) if names is None else list(names)
    for n in names:
        load(n)  # unknown names fail before anything runs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    threads = get_num_threads()
    logger.info("paper checks on threads %s", threads)
    reports = []
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="paper checks", unit="check")
    write_report(out, reports, mode, names, {"threads": threads})
    signals = []
    with _interrupts_noted(signals):
        try:
            for n in it:
                if progress:
                    it.set_postfix_str(n)
                rep = run_check(n, mode=mode, out=out)
                if signals:  # simulate/train caught the interrupt and returned: a cut-short run, no verdict
                    raise KeyboardInterrupt
                reports.append(rep)
                logger.info("%s: %s (expected %s), broken: %s", n, rep.verdict, rep.expected, rep.broken_verdict)
                write_report(out, reports, mode, names, {"threads": threads})
        except KeyboardInterrupt:
            logger.warning("paper checks interrupted after %d of %d; the report (written after each check) keeps "
                           "the finished ones", len(reports), len(names))
            raise
        finally:
            if progress:
                it.close()
    return reports


class _interrupts_noted:
    """While the checks run (main thread only): SIGINT and SIGTERM raise KeyboardInterrupt and are
    noted in ``signals``. simulate and train catch KeyboardInterrupt and return the state
    reached, so a check may finish after one with a verdict on a cut-short run; the note lets
    the runner drop that verdict and stop. The previous handlers are put back afterwards."""

    def __init__(self, signals):
        self.signals, self.old = signals, {}

    def _handler(self, signum, frame):
        self.signals.append(signum)
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        return False


def _holds(r):
    if r.verdict == NOT_RUN:
        return "not run"
    return "skipped" if r.verdict == SKIPPED else ("yes" if r.holds else "NO")


def report_markdown(reports, mode):
    """The report: a table of claims and verdicts, then each check's thresholds and numbers."""
    lines = [f"# Paper checks ({mode} mode)", "",
             "Verdicts against thresholds fixed in the code before the run. *Holds*: the verdict is the "
             "expected one and the deliberately broken run's is not.", "",
             "| claim | source | verdict (expected) | key number | broken run | holds | s |",
             "|---|---|---|---|---|---|---|"]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731  (a | inside a cell ends it)
    for r in reports:
        lines.append(f"| {cell(r.title)} | {cell(r.source)} | **{r.verdict}** ({r.expected}) | {cell(r.key)} | "
                     f"{cell(r.broken)}: {r.broken_verdict} | {_holds(r)} | {r.seconds:.1f} |")
    for r in reports:
        lines += ["", f"## {r.title}", "", f"Source: {r.source}. Verdict **{r.verdict}** (expected {r.expected}); "
                  f"broken run ({r.broken}): {r.broken_verdict}.", "", "Thresholds:", ""]
        lines += [f"- `{k}` = {v['value']:g}: {v['why']}" for k, v in r.thresholds.items()]
        if r.details:
            lines += ["", r.details]
        lines += ["", *[f"![{f}]({f})" for f in r.figures]] if r.figures else []
        if r.error:
            lines += ["", "```", r.error.strip(), "```"]
    return "\n".join(lines) + "\n"


def exit_code(reports):
    """0 when every check holds, 1 otherwise (a claim that should pass fails, a claim we expect to
    be false passes, a broken run gives the expected verdict, or a check raised)."""
    return 0 if all(r.holds for r in reports) else 1


def loglog_figure(out, filename, title, xlabel, ylabel, series, guide=None):
    """Write a log-log figure of ``series`` ({label: (x, y)}) to ``out/filename``; return the name.

    ``guide`` = (x, y, label) draws a reference line (e.g. slope 1). Returns None when ``out`` is
    None (the broken run and the tests write nothing).
    """
    if out is None:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    for label, (x, y) in series.items():
        ax.loglog(x, y, "o-", label=label)
    if guide is not None:
        ax.loglog(guide[0], guide[1], "k--", lw=1, label=guide[2])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(Path(out) / filename, dpi=110)
    return filename
