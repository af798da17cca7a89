"""Every status word of w1flow, with its meaning: one table for runs, potentials, fields and steps.

Three kinds of objects report a status:

* a **run** (:class:`~w1flow.FlowResult`): ``"success"`` or why it stopped;
* a **potential or field** (what an oracle or a problem returns at one state: an exact LP, a
  Sinkhorn run, a trained critic, a mean-field drift): ``"optimal"``, ``"converged"`` or
  ``"success"`` when it can be used, otherwise the reason it cannot;
* a **step** (:class:`~w1flow.solvers.StepResult`) and a solver's **W1 record**: ``"success"``
  (or the field's own word) when it worked, otherwise the failed field's or certificate's word.

A failed field or step stops :func:`~w1flow.simulate`; :func:`run_status` names the run's
status for it. Use :func:`is_ok` rather than comparing words, and :func:`describe` for the
meaning of any word.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Status", "STATUSES", "RUN_STATUSES", "is_ok", "describe", "run_status", "run_message"]


@dataclass(frozen=True)
class Status:
    """One status word.

    Attributes
    ----------
    word : str
        The word objects report in their ``status`` attribute.
    ok : bool
        True when an object with this status can be used (a run: it reached ``t1``).
    scope : tuple of str
        Who reports it: ``"run"``, ``"field"`` (potentials and problem fields), ``"step"``.
    summary : str
        What it means, in one sentence (a run's message starts with it).
    advice : str
        What to do about it.
    """

    word: str
    ok: bool
    scope: tuple
    summary: str
    advice: str = ""


_TABLE = (
    # -- runs (FlowResult.status) -------------------------------------------------------------
    Status("success", True, ("run", "field", "step"), "The flow reached t1.",
           "For a field or a step: the drift was evaluated, the step was taken."),
    Status("lp_failed", False, ("run", "field"),
           "A potential (LP) could not be computed to optimality; the run stopped.",
           "The message carries the oracle's own reason (POT's result code, Sinkhorn's marginal "
           "error, a critic's non-finite weights)."),
    Status("certificate_failed", False, ("run", "step"),
           "The optimality certificate of the carried-over plan failed; the run stopped.",
           "The plan the solver relied on is not optimal at the current positions: report it, and "
           "rerun with Euler(reuse_plan=False) or SaveAt(w1='lp')."),
    Status("nonfinite", False, ("run", "field"), "A non-finite position appeared; the run stopped.",
           "Lower dt, or a critic's learning rate (a critic reports it for non-finite weights)."),
    Status("diverged", False, ("run",), "The run diverged (finite, but exploding); it stopped.",
           "The message names the rule that fired (docs/reliability.md, 'Divergence and growth'). A "
           "flow: lower dt (an explicit scheme is unstable once dt times the stiffness exceeds about "
           "2). Training: lower lr or dt."),
    Status("sinkhorn_failed", False, ("run",),
           "Sinkhorn did not reach its tolerance; the run stopped.",
           "The message gives the marginal error reached. Raise EntropicPotential's max_iter or "
           "reg, or loosen tol; eps-scaling (on by default) is what makes small reg reachable."),
    Status("ratio_failed", False, ("run", "field"),
           "The density-ratio classifier of a MonoFlow could not be fitted; the run stopped.",
           "The message gives L-BFGS's reason. Raise LogRatioEstimator's max_iter or penalty, or loosen "
           "its tol."),
    Status("unhealthy", False, ("run",), "A health monitor flagged the run:",
           "See w1flow.monitors and FlowResult.health; on_unhealthy='warn' lets it go on."),
    Status("callback", False, ("run",), "The callback asked to stop."),
    Status("interrupted", False, ("run",),
           "Interrupted (KeyboardInterrupt); the result holds the state reached.",
           "A run with a checkpoint resumes with Checkpoint(path, resume=True)."),
    # -- potentials and fields ----------------------------------------------------------------
    Status("optimal", True, ("field", "step"), "An exact LP (or a certified plan) is optimal."),
    Status("converged", True, ("field",), "An iterative potential (Sinkhorn, a critic) finished its work."),
    Status("not_converged", False, ("field",),
           "Sinkhorn stopped at max_iter with its marginal error above tol.",
           "Raise max_iter or reg, or loosen tol."),
    Status("max_iter_reached", False, ("field",),
           "An iterative solver stopped at its iteration cap before optimality.",
           "Raise POT's num_itermax or Sinkhorn's max_iter."),
    Status("not_certified", False, ("field",),
           "w1flow's sparse network simplex could not certify its plan optimal over all pairs.",
           "The message says why (pivot cap, infeasible tree flows). Raise ExactPotential's "
           "num_itermax, or use the dense LP (sparse=False) where it fits."),
    Status("infeasible", False, ("field",), "POT reports the LP infeasible (the marginals disagree)."),
    Status("unbounded", False, ("field",), "POT reports the LP unbounded."),
)

#: Every status word, keyed by the word.
STATUSES = {s.word: s for s in _TABLE}

#: The words a :class:`~w1flow.FlowResult` may carry, with their meaning.
RUN_STATUSES = {s.word: s.summary for s in _TABLE if "run" in s.scope}

_OK = frozenset(s.word for s in _TABLE if s.ok)


def is_ok(word):
    """True when an object reporting ``word`` can be used (unknown words are failures)."""
    return word in _OK


def describe(word):
    """The meaning of a status word and the advice on it (unknown words, e.g. POT's
    ``code_7``, are named as failures)."""
    status = STATUSES.get(word)
    if status is None:
        return f"unknown status {word!r} (a failure)"
    return f"{status.summary} {status.advice}".strip()


#: How a failed field, step or W1 record maps to the run's status (anything else: "lp_failed").
_RUN_STATUS_OF = {
    "certificate_failed": "certificate_failed",
    "not_converged": "sinkhorn_failed",
    "nonfinite": "nonfinite",
    "ratio_failed": "ratio_failed",
}


def run_status(failed_word):
    """The run status for a failed field, step or W1 record reporting ``failed_word``.

    A failed certificate keeps its own word, a Sinkhorn that did not converge is
    ``"sinkhorn_failed"``, a non-finite potential (a critic's weights) is ``"nonfinite"``; every
    other failure of a potential (an LP's) is ``"lp_failed"``.
    """
    return _RUN_STATUS_OF.get(failed_word, "lp_failed")


def run_message(word, detail=""):
    """A run's message: the summary of its status word, then ``detail``."""
    head = STATUSES[word].summary
    return f"{head} {detail}" if detail else head
