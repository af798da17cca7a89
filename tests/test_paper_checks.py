"""The paper checks (issue E): `w1flow check --quick` runs, every check holds, and the runner
reports a check that cannot fail or that raises."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from w1flow.paper_checks import CHECKS, FAIL, INCONCLUSIVE, PASS, Outcome, _core, exit_code, run_check

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_w1flow_check_quick_runs_and_every_check_holds(tmp_path):
    out = tmp_path / "checks"
    proc = subprocess.run([sys.executable, "-m", "w1flow", "check", "--quick", "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "quick"
    assert [c["name"] for c in report["checks"]] == list(CHECKS)
    skipped = 0
    for c in report["checks"]:
        assert not c["error"]
        if c["verdict"] == "SKIPPED":  # full-only checks
            assert _core.load(c["name"]).FULL_ONLY
            skipped += 1
            continue
        assert c["holds"] and c["verdict"] == c["expected"] and c["broken_verdict"] != c["expected"], c["name"]
    assert skipped <= 1
    figures = [f for c in report["checks"] for f in c["figures"]]
    assert {"euler_convergence.png", "critic_error.png", "monoflow_divergences.png"} <= set(figures)
    assert all((out / f).is_file() and (out / f).stat().st_size > 10_000 for f in figures)
    md = (out / "report.md").read_text()
    assert md.count("| yes |") + md.count("| skipped |") == len(CHECKS) and md.count("| skipped |") == skipped
    assert all(f"![{f}]({f})" in md for f in figures)
    assert "strictly convex" in md and "**FAIL** (FAIL)" in md  # a claim we expect to be false, and is


def test_every_check_states_its_claim_source_thresholds_and_broken_run():
    for name in CHECKS:
        mod = _core.load(name)
        for attr in ("TITLE", "CLAIM", "SOURCE", "BROKEN"):
            assert isinstance(getattr(mod, attr), str) and getattr(mod, attr), (name, attr)
        # the paper by arXiv number, and how much of the claim is known (the _core docstring's words)
        assert re.search(r"arXiv:\d{4}\.\d{5}", mod.SOURCE), name
        assert any(tag in mod.SOURCE for tag in ("verified", "reconstructed", "our analysis", "inferred")), name
        assert mod.EXPECTED in (PASS, FAIL)
        assert mod.THRESHOLDS, name
        for key, (value, why) in mod.THRESHOLDS.items():
            assert isinstance(value, (int, float)) and len(why) > 20, (name, key)


class _Fake:
    TITLE = CLAIM = SOURCE = BROKEN = "fake claim"
    EXPECTED = PASS
    THRESHOLDS = {"x": (1.0, "a threshold with its reason given")}

    def __init__(self, good, bad, error=False):
        self.good, self.bad, self.error = good, bad, error

    def run(self, mode="quick", broken=False, out=None):
        if self.error:
            raise RuntimeError("boom")
        return Outcome(self.bad if broken else self.good, "k")


@pytest.mark.parametrize("good, bad, error, holds", [
    (PASS, FAIL, False, True),
    (PASS, PASS, False, False),          # the broken run passes too: a check that cannot fail
    (FAIL, FAIL, False, False),          # a claim that should pass fails
    (INCONCLUSIVE, FAIL, False, False),  # not shown
    (PASS, FAIL, True, False),           # a check that raises
])
def test_runner_holds_only_when_the_verdict_is_expected_and_the_broken_run_differs(monkeypatch, good, bad, error,
                                                                                  holds):
    monkeypatch.setattr(_core, "load", lambda name: _Fake(good, bad, error))
    r = run_check("fake")
    assert r.holds is holds
    assert exit_code([r]) == (0 if holds else 1)
    assert ("boom" in r.error) is error


@pytest.mark.slow
def test_the_cli_refuses_an_unknown_check():
    """The CLI's part of the refusals (a subprocess); the in-process ones are in the fast tier."""
    proc = subprocess.run([sys.executable, "-m", "w1flow", "check", "--only", "nope", "--out", "unused"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown check 'nope'" in proc.stderr


def test_bad_names_modes_and_verdicts_are_refused_in_process():
    with pytest.raises(ValueError, match=r"\bunknown check\b.*first_variation"):
        _core.load("nope")
    with pytest.raises(ValueError, match=r"\bmode\b"):
        run_check("first_variation", mode="fast")
    with pytest.raises(ValueError, match=r"\bverdict\b"):
        Outcome("OK", "k")


def test_every_check_module_is_registered():
    mods = {p.stem for p in (ROOT / "w1flow" / "paper_checks").glob("*.py") if not p.stem.startswith("_")}
    assert mods == set(CHECKS)


def test_checks_use_the_independent_reference_not_the_code_under_test():
    """W1 and W2 values in the checks come from _reference (cdist + POT), not from w1flow.metrics."""
    for name in CHECKS:
        tree = ast.parse((ROOT / "w1flow" / "paper_checks" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert "metrics" not in node.module, name


#: The quick checks that take well under a second each (`w1flow check --quick` on 2 idle cores):
#: run in process in the fast tier, so it exercises the checks themselves, not only the runner
#: (the whole `check --quick` is in the slow tier).
FAST_CHECKS = ["strict_convexity", "dissipation", "first_variation", "w2fe_contraction",
               "first_variation_degenerate", "gan_js_flow", "wgan_equivalence", "non_uniqueness",
               "euler_convergence", "monoflow_particles"]


@pytest.mark.parametrize("name", FAST_CHECKS)
def test_a_fast_check_holds_and_its_broken_run_does_not(name):
    rep = run_check(name, "quick")
    assert not rep.error, rep.error
    assert rep.verdict == _core.load(name).EXPECTED and rep.broken_verdict != rep.verdict, rep.key
    assert rep.holds
