"""Behaviour check for refactors: the same runs on two versions of w1flow, compared bitwise.

Usage::

    python tools/compare_behaviour.py --against 42df64e      # this tree vs a git revision
    python tools/compare_behaviour.py record out.pkl         # record the runs of the importable w1flow

``--against REV`` checks REV out into a temporary git worktree, records every run there and here
(each in its own process, with ``PYTHONPATH`` pointing at the tree), and compares ``ts``, ``w1``,
the final particles, weights and parents, ``n_steps``, ``n_lp_solves``, ``n_field_evals`` and the
status with ``np.array_equal``. Messages are compared too and listed separately (wording may
change). Exit code 0 when nothing but listed-as-allowed differences remain.

The matrix: solver (Euler with and without plan reuse, Euler with a certificate, CappedEuler
with and without a certificate, Heun, RK4) × oracle (exact, entropic, quantile) × split ×
weights (uniform, random) × dimension (1, 2) × W1 method (auto, lp) × resume (none, or
interrupted by a callback and resumed from the checkpoint), plus mean-field and W2 flows.
Runs use the keywords of the old API (``save_every``, ``split``, ``w1_method``, ``checkpoint``,
``checkpoint_every``, ``resume``), which must keep working; where the new API exists
(``w1flow.SaveAt``) every run is repeated with the new spelling and must agree bitwise with the
old spelling.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("status", "ts", "w1", "x_final", "a_final", "parent_final", "n_steps", "n_lp_solves",
          "n_field_evals", "n_saved")


def _clouds(d, weighted, seed=0):
    rng = np.random.default_rng(seed + 10 * d + int(weighted))
    n = 12
    x = rng.standard_normal((n, d)) + np.r_[2.5, np.zeros(d - 1)]
    y = rng.standard_normal((n, d)) * 0.7
    a = None
    if weighted:
        a = rng.uniform(0.2, 1.0, n)
        a /= a.sum()
    return x, y, a


def _solvers(w1flow):
    return {
        "euler": lambda: w1flow.Euler(),
        "euler_noreuse": lambda: w1flow.Euler(reuse_plan=False),
        "euler_certify": lambda: w1flow.Euler(certify=True),
        "capped": lambda: w1flow.CappedEuler(),
        "capped_certify": lambda: w1flow.CappedEuler(certify=True),
        "heun": lambda: w1flow.Heun(),
        "rk4": lambda: w1flow.RK4(),
    }


def _oracles(w1flow):
    return {
        "exact": lambda: w1flow.ExactPotential(),
        "entropic": lambda: w1flow.EntropicPotential(0.5),
        "quantile": lambda: w1flow.QuantilePotential(),
    }


def _summary(res):
    return {
        "status": res.status,
        "message": res.message,
        "ts": np.asarray(res.ts),
        "w1": None if res.w1 is None else np.asarray(res.w1),
        "x_final": res.xs[-1],
        "a_final": res.weights[-1],
        "parent_final": res.parents[-1],
        "n_steps": res.n_steps,
        "n_lp_solves": res.n_lp_solves,
        "n_field_evals": res.n_field_evals,
        "n_saved": len(res.xs),
    }


class _StopAt:
    """A callback that interrupts the run at its k-th call (as a user's Ctrl-C would)."""

    def __init__(self, k):
        self.k, self.calls = k, 0

    def __call__(self, t, x, a):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt


def _new_spelling(w1flow, kw):
    """The same keywords in the new API (SaveAt, Checkpoint, solver options)."""
    kw = dict(kw)
    save = dict(every=kw.pop("save_every", 1))
    if not kw.pop("record_w1", True):
        save["w1"] = None
    else:
        save["w1"] = kw.pop("w1_method", "auto")
    kw["saveat"] = w1flow.SaveAt(**save)
    if "checkpoint" in kw:
        kw["checkpoint"] = w1flow.Checkpoint(kw.pop("checkpoint"), every=kw.pop("checkpoint_every", 100),
                                             resume=kw.pop("resume", False))
    split = kw.pop("split", False)
    if split:
        kw["solver"] = kw["solver"].replace(split=True)
    return kw


def _run(w1flow, problem, x, t1, dt, kw, resume, tmp, new_api):
    make = (lambda k: _new_spelling(w1flow, k)) if new_api else (lambda k: k)
    if not resume:
        return w1flow.simulate(problem, x, t1, dt, **make(kw))
    ck = os.path.join(tmp, f"ck{np.random.default_rng().integers(1 << 62)}.pkl")
    first = dict(kw, checkpoint=ck, checkpoint_every=3, callback=_StopAt(7))
    first["solver"] = kw["solver"]
    part = w1flow.simulate(problem, x, t1, dt, **make(first))
    if part.status != "interrupted":
        return part
    again = dict(kw, checkpoint=ck, checkpoint_every=3, resume=True)
    again["solver"] = type(kw["solver"])(**_solver_kwargs(kw["solver"]))
    return w1flow.simulate(problem, x, t1, dt, **make(again))


def _solver_kwargs(solver):
    return {k: getattr(solver, k) for k in ("reuse_plan", "certify") if hasattr(solver, k)}


def _cases(w1flow):
    solvers, oracles = _solvers(w1flow), _oracles(w1flow)
    grid = itertools.product((1, 2), (False, True), oracles, solvers, (False, True), ("auto", "lp"),
                             (False, True))
    for d, weighted, oname, sname, split, method, resume in grid:
        name = f"d{d}-{'w' if weighted else 'u'}-{oname}-{sname}-{'split' if split else 'avg'}-{method}" \
               f"-{'resume' if resume else 'run'}"

        def case(tmp, new_api, d=d, weighted=weighted, oname=oname, sname=sname, split=split,
                 method=method, resume=resume):
            x, y, a = _clouds(d, weighted)
            kw = dict(solver=solvers[sname](), potential=oracles[oname](), weights=a, save_every=2,
                      split=split, w1_method=method)
            return _run(w1flow, w1flow.W1Flow(y), x, 1.5, 0.1, kw, resume, tmp, new_api)

        yield name, case

    def drift(x, a, t):
        return -(x - a @ x) * (1.0 + 0.5 * np.sin(3 * t)) + np.cos(t)

    for sname, weighted, resume in itertools.product(("euler", "heun", "rk4"), (False, True), (False, True)):
        def case(tmp, new_api, sname=sname, weighted=weighted, resume=resume):
            x, _, a = _clouds(2, weighted)
            kw = dict(solver=solvers[sname](), weights=a, save_every=3)
            return _run(w1flow, w1flow.MeanFieldODE(drift), x, 1.3, 0.05, kw, resume, tmp, new_api)

        yield f"meanfield-{sname}-{'w' if weighted else 'u'}-{'resume' if resume else 'run'}", case

    for weighted, resume, method in itertools.product((False, True), (False, True), ("auto", "lp")):
        def case(tmp, new_api, weighted=weighted, resume=resume, method=method):
            x, y, a = _clouds(2, weighted)
            kw = dict(solver=w1flow.Euler(), weights=a, save_every=2, w1_method=method)
            return _run(w1flow, w1flow.W2Flow(y), x, 1.5, 0.1, kw, resume, tmp, new_api)

        yield f"w2-{'w' if weighted else 'u'}-{method}-{'resume' if resume else 'run'}", case


def record(out):
    import w1flow

    new_api = hasattr(w1flow, "SaveAt")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, case in _cases(w1flow):
            spellings = (False, True) if new_api else (False,)
            for new in spellings:
                try:
                    val = _summary(case(tmp, new))
                except Exception as exc:  # an error is a behaviour too
                    val = {"error": type(exc).__name__, "message": str(exc)}
                results[name + ("@new" if new else "")] = val
    with open(out, "wb") as fh:
        pickle.dump({"version": w1flow.__version__, "path": w1flow.__file__, "results": results}, fh)
    print(f"recorded {len(results)} runs of w1flow at {w1flow.__file__} into {out}")


def _equal(u, v):
    if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
        return isinstance(u, np.ndarray) and isinstance(v, np.ndarray) and u.shape == v.shape \
            and np.array_equal(u, v)
    return u == v


def compare(ref_file, new_file, allowed=()):
    ref = pickle.load(open(ref_file, "rb"))["results"]
    new = pickle.load(open(new_file, "rb"))["results"]
    diffs, messages = [], []
    n_same = 0
    for name in sorted(ref):
        r = ref[name]
        candidates = [(name, new.get(name))]
        if name + "@new" in new:
            candidates.append((name + "@new", new[name + "@new"]))
        for key, n in candidates:
            if n is None:
                diffs.append((key, "missing in the new run"))
                continue
            if "error" in r or "error" in n:
                if r.get("error") != n.get("error"):
                    diffs.append((key, f"error {r.get('error')} ({r.get('message')}) -> "
                                       f"{n.get('error')} ({n.get('message')})"))
                elif r.get("message") != n.get("message"):
                    messages.append((key, r.get("message"), n.get("message")))
                else:
                    n_same += 1
                continue
            bad = [f for f in FIELDS if not _equal(r[f], n[f])]
            if bad:
                detail = ", ".join(f"{f}: {r[f]!r} -> {n[f]!r}" if f.startswith("n_") or f == "status"
                                   else f for f in bad)
                diffs.append((key, detail))
            else:
                n_same += 1
            if r["message"] != n["message"]:
                messages.append((key, r["message"], n["message"]))
    extra = sorted(set(k.replace("@new", "") for k in new) - set(ref))
    print(f"{n_same} runs bitwise identical (ts, w1, final particles/weights/parents, counts, status)")
    print(f"{len(diffs)} runs differ:")
    for key, what in diffs:
        print(f"  {key}: {what}")
    print(f"{len(messages)} messages differ:")
    for key, old, new_msg in messages:
        print(f"  {key}:\n     old: {old}\n     new: {new_msg}")
    if extra:
        print(f"{len(extra)} runs only in the new version: {extra[:5]}...")
    return 0 if not diffs else 1


def against(rev):
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), rev], check=True,
                       capture_output=True)
        try:
            ref_out, new_out = Path(tmp) / "ref.pkl", Path(tmp) / "new.pkl"
            for tree, out in ((wt, ref_out), (ROOT, new_out)):
                env = dict(os.environ, PYTHONPATH=str(tree))
                subprocess.run([sys.executable, str(Path(__file__).resolve()), "record", str(out)], check=True,
                               env=env, cwd=tmp)
            return compare(ref_out, new_out)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], check=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", choices=("record", "compare"))
    p.add_argument("files", nargs="*")
    p.add_argument("--against", help="git revision to compare this tree with")
    args = p.parse_args(argv)
    if args.against:
        return against(args.against)
    if args.mode == "record":
        record(args.files[0])
        return 0
    if args.mode == "compare":
        return compare(*args.files[:2])
    p.error("give --against REV, or record OUT, or compare REF NEW")


if __name__ == "__main__":
    sys.exit(main())
