"""Executable checks of the papers' claims, each with a measured verdict.

Run them with ``w1flow check [--quick|--full] [--only NAME[,NAME]] --out DIR``, or from Python::

    from w1flow.paper_checks import run_checks
    reports = run_checks(mode="quick", out="w1flow-checks")

Each module states one claim with its source (the paper by arXiv number and section, and in words
how sure the note on it is), runs the experiment, and
returns a verdict (PASS, FAIL, INCONCLUSIVE) against thresholds fixed in its code; the runner
also runs it on a deliberately broken input or implementation, which must not give the expected
verdict. The checks are part of the package, so ``w1flow check`` runs wherever w1flow is
installed; the checkout's top-level ``paper_checks/README.md`` tables every claim with its verdict
in the last full report.
"""

from ._core import CHECKS, FAIL, INCONCLUSIVE, PASS, CheckReport, Outcome, exit_code, run_check, run_checks

__all__ = ["CHECKS", "PASS", "FAIL", "INCONCLUSIVE", "Outcome", "CheckReport", "run_check", "run_checks",
           "exit_code"]
