"""Behaviour check for refactors: the same runs on two versions of w1flow, compared bitwise.

Usage::

    python tools/compare_behaviour.py --against 42df64e      # this tree vs a git revision
    python tools/compare_behaviour.py --against b4824c1 --only generators,sweeps
    python tools/compare_behaviour.py record out.pkl [--only flows]  # record the importable w1flow
    python tools/compare_behaviour.py compare ref.pkl new.pkl

``--against REV`` checks REV out into a temporary git worktree, records every run there and here
(each in its own process, with ``PYTHONPATH`` pointing at the tree; both run *this* script, so
its recording code speaks both APIs), and compares them bitwise: arrays by dtype, shape and bytes
(NaN equals NaN), floats by their bits, the rest by ``==``. Messages and config dicts are
compared too and listed separately (wording may change). Exit code 0 when every run is equal, 1
when a run differs, 2 when nothing differs but some runs were not comparable (an API one version
lacks; listed as "not comparable"). The counts are printed per group at the end.

Three groups (``--only flows|generators|sweeps``, comma-separated for several):

**flows** — solver (Euler with and without plan reuse, Euler with a certificate, CappedEuler
with and without a certificate, Heun, RK4) × oracle (exact, entropic, quantile) × split ×
weights (uniform, random) × dimension (1, 2) × W1 method (auto, lp) × resume (none, or
interrupted by a callback and resumed from the checkpoint), plus mean-field and W2 flows; and
beyond the matrix, flows on the exact LP's other paths (``ExactPotential`` with a warm start, the
incremental basis, the sparse LP, the sparse LP chosen by the memory budget; d = 1, 2; uniform and
random weights; run and resume) and ``metrics.w1`` (dense, sparse, auto) / ``metrics.w2`` called
directly on 60-point clouds in d = 1, 2, 3.
Runs use the keywords of the old API (``save_every``, ``split``, ``w1_method``, ``checkpoint``,
``checkpoint_every``, ``resume``), which must keep working; where the new API exists
(``w1flow.SaveAt``) every run is repeated with the new spelling and must agree bitwise with the
old spelling. Compared: ``ts``, ``w1``, the final particles, weights and parents, the counts, status.

**generators** — ``w1flow.generative.train``: methods w1fe (K = 1, 4), wgan, naive_same, naive_fresh
× oracle (ExactPotential, a small CriticPotential) × optimiser (Adam, SGD), with held-out
evaluation; W2-FE and the GAN (JS) flow through the same steps (``W2Potential``,
``RatioPotential("vanilla_gan")``, W1-FE and WGAN steps); plus a run without evaluation, one with
other seed/betas/eps/dt/batch, ``mse="mean"``, a ``latent=`` translation run, three runs interrupted
(an oracle that raises KeyboardInterrupt at its 4th call) with a checkpoint and resumed (the
interrupted part and the resumed run are both recorded), torch-backend runs (MLP and DCGAN
generators, exact and TorchCriticPotential) and two ``wgan_gp_reference`` runs when torch imports
(else listed as not comparable). Compared: the final θ, every history array (``wall_time`` aside),
the history's keys, ``n_iter``, ``generator_steps``, ``critic_updates``, ``lp_solves``, status, and
the oracle's final ``state_dict``. One neutral run description is spelled for either API, detected
by ``hasattr(w1flow.generative, "W1FE")``: the keywords of b4824c1 (``method="w1fe", K=.., lr=..,
held_out=..``) or the method objects and grouped options (``W1FE``, ``Batches``, ``Adam``/``SGD``,
``Evaluation``); ``wgan_gp_reference``'s new grouping is read from its signature.

**sweeps** — a 2×2 flow sweep (solver kind × dt) through ``w1flow.sweep.run_sweep`` from a TOML
file, serial: each cell's fingerprint, index, parameters and stored ``FlowResult`` (all saved
snapshots, weights, ``ts``, ``w1``, counts, status), and a re-run that must skip all four cells;
the W1-FE K-study cells on a tiny budget (final W1, the W1, critic-step and generator-step
histories, the critic's last estimate, the reach ratio, 500 samples of the final generator,
status), run by ``experiments.run_cell`` at b4824c1 and by a one-cell generator sweep of the
runner where it has generator cells; and the noise floor. The adapters (``_kstudy_cell``,
``_noise_floor``) list a cell as "not comparable: API missing" when this version has no spelling
of it known here.
"""

from __future__ import annotations

import argparse
import importlib
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

    yield from _lp_cases(w1flow)


#: The exact LP's other paths (warm start, incremental basis, sparse, sparse chosen by the memory
#: budget), each in a flow; n = 40 so that the budget of 4,000 bytes sends "auto" to the sparse LP.
LP_VARIANTS = {"warm": dict(warm_start=True), "incremental": dict(incremental=True), "sparse": dict(sparse=True),
               "auto_sparse": dict(sparse="auto", max_memory=4000)}


def _lp_clouds(d, weighted, n=40):
    rng = np.random.default_rng(100 + 10 * d + int(weighted))
    x = rng.standard_normal((n, d)) + np.r_[2.0, np.zeros(d - 1)]
    y = rng.standard_normal((n, d)) * 0.8
    a = rng.uniform(0.2, 1.0, n) if weighted else None
    return x, y, None if a is None else a / a.sum()


def _lp_cases(w1flow):
    """Flows on the exact LP's other paths, and the LP-based metrics called directly (extra runs of
    the flows group; the matrix above is unchanged)."""
    for vname, d, weighted, resume in itertools.product(LP_VARIANTS, (1, 2), (False, True), (False, True)):
        def case(tmp, new_api, vname=vname, d=d, weighted=weighted, resume=resume):
            x, y, a = _lp_clouds(d, weighted)
            pot = w1flow.ExactPotential(**LP_VARIANTS[vname])
            kw = dict(solver=w1flow.Euler(), potential=pot, weights=a, save_every=2, w1_method="lp")
            return _run(w1flow, w1flow.W1Flow(y), x, 1.0, 0.1, kw, resume, tmp, new_api)

        yield f"lp-{vname}-d{d}-{'w' if weighted else 'u'}-{'resume' if resume else 'run'}", case
    for d, weighted, sparse in itertools.product((1, 2, 3), (False, True), (False, True, "auto")):
        def case(tmp, new_api, d=d, weighted=weighted, sparse=sparse):
            from w1flow import metrics

            x, y, a = _lp_clouds(d, weighted, n=60)
            b = None if a is None else a[::-1].copy()
            kw = dict(sparse=sparse, max_memory=4000) if sparse == "auto" else dict(sparse=sparse)
            out = {"w1": np.float64(metrics.w1(x, y, a, b, **kw))}
            if hasattr(metrics, "w2") and sparse is False:
                out["w2"] = np.float64(metrics.w2(x, y, a, b))
            return out

        case.one_spelling = True  # no simulate keywords: recorded once
        yield f"metrics-d{d}-{'w' if weighted else 'u'}-sparse_{sparse}", case


# -- generator training runs (w1flow.generative.train, wgan_gp_reference) ----------------------------
# One neutral description per run (a dict of the old keyword names), spelled for whichever API the
# importable w1flow has: the keywords of b4824c1 (``train(..., method="w1fe", K=.., lr=.., ...)``),
# or the grouped objects of the new API (``W1FE(K, dt)``, ``Batches``, ``Adam``/``SGD``,
# ``Evaluation``), detected by ``hasattr(w1flow.generative, "W1FE")``.

TRAIN_DEFAULTS = dict(method="w1fe", K=1, dt=0.1, mse="sum", n_iter=6, batch_size=32, seed=0, optimizer="adam",
                      lr=2e-3, betas=(0.5, 0.9), eps=1e-8, held_out=True, eval_every=2, eval_samples=150,
                      latent=False, backend="numpy")
#: History entries that measure time, not arithmetic: recorded nowhere (they differ run to run).
TIMING = ("wall_time",)


def _torch_available():
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


def _new_train_api(w1flow):
    import w1flow.generative as gen

    return hasattr(gen, "W1FE")


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.random((n, 64)) * (rng.random((n, 64)) < 0.4), 0.0, 1.0)


def _interrupting(base, at):
    """``base`` oracle class with a Ctrl-C at its ``at``-th call (an interrupted training run); the same
    class name in both versions, so the run fingerprints agree."""

    class _Interrupting(base):
        calls = 0
        # no state of its own besides the class-level counter (the checkpoint protocol wants it declared)
        state_dict = base.state_dict
        load_state = base.load_state

        def __call__(self, *args, **kwargs):
            type(self).calls += 1
            if type(self).calls == at:
                raise KeyboardInterrupt
            return base.__call__(self, *args, **kwargs)

    _Interrupting.__name__ = _Interrupting.__qualname__ = f"Interrupting{base.__name__}"
    return _Interrupting


def _oracle(w1flow, kind, interrupt_at=None):
    from w1flow.potentials import CriticPotential, ExactPotential

    if kind == "exact":
        cls, kw = ExactPotential, {}
    elif kind == "critic":
        cls, kw = CriticPotential, dict(hidden=(8,), n_critic=3, n_warmup=10, seed=0)
    elif kind == "w2":
        from w1flow.potentials.fields import W2Potential

        cls, kw = W2Potential, {}
    elif kind == "ratio":
        from w1flow.potentials.fields import RatioPotential

        cls, kw = RatioPotential, dict(h="vanilla_gan")
    elif kind == "torch_critic":
        from w1flow.potentials.torch_critic import TorchCriticPotential

        cls, kw = TorchCriticPotential, dict(architecture="dcgan", channels=(4, 8), n_critic=2, warmup=2, lr=1e-3,
                                             seed=7, hidden=(16,))
    else:
        raise ValueError(kind)
    if interrupt_at is not None:
        cls = _interrupting(cls, interrupt_at)
    return cls(**kw)


def _generator(w1flow, kind):
    from w1flow.generative import MLPGenerator, TorchGenerator

    if kind == "mlp":
        return MLPGenerator(2, 2, hidden=(16,), seed=1)
    if kind == "mlp_latent3":
        return MLPGenerator(3, 2, hidden=(16,), seed=1)
    if kind == "dcgan":
        return TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1)
    raise ValueError(kind)


def _train_data(gen_kind):
    from w1flow.datasets import eight_gaussians

    if gen_kind == "dcgan":
        return _images(300, 0), _images(60, 2)
    return eight_gaussians(600, seed=0), eight_gaussians(200, seed=9)


def _train_old(w1flow, generator, data, potential, run, held, latent, eval_latent, checkpoint):
    """The run in the keywords of ``train`` at b4824c1."""
    from w1flow.generative import train

    return train(generator, data, potential, method=run["method"], K=run["K"], dt=run["dt"], n_iter=run["n_iter"],
                 batch_size=run["batch_size"], optimizer=run["optimizer"], lr=run["lr"], betas=run["betas"],
                 eps=run["eps"], mse=run["mse"], held_out=held, eval_every=run["eval_every"] if held is not None
                 else None, eval_samples=run["eval_samples"], seed=run["seed"], checkpoint=checkpoint,
                 backend=run["backend"], latent=latent, eval_latent=eval_latent)


def _train_new(w1flow, generator, data, potential, run, held, latent, eval_latent, checkpoint):
    """The same run in the new API: a method object and grouped options."""
    import w1flow.generative as G

    m = run["method"]
    if m == "w1fe":
        method = G.W1FE(K=run["K"], dt=run["dt"], mse=run["mse"])
    elif m == "wgan":
        method = G.WGAN()
    elif m == "naive_same":
        method = G.NaiveSame(K=run["K"])
    else:
        method = G.NaiveFresh(K=run["K"])
    if run["optimizer"] == "adam":
        opt = G.Adam(lr=run["lr"], betas=run["betas"], eps=run["eps"])
    else:
        opt = G.SGD(lr=run["lr"])
    batches = G.Batches(size=run["batch_size"], seed=run["seed"], latent=latent)
    evaluation = G.Evaluation(held_out=held, every=run["eval_every"] if held is not None else None,
                              samples=run["eval_samples"], latent=eval_latent)
    return G.train(generator, data, potential, method, n_iter=run["n_iter"], batches=batches, optimizer=opt,
                   evaluation=evaluation, checkpoint=checkpoint, backend=run["backend"])


def _flat(prefix, value, out):
    """``value`` (a state dict, a history, a config) flattened into ``out`` as ``prefix.key``: arrays
    and numbers to compare bitwise."""
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            _flat(f"{prefix}.{k}", value[k], out)
    elif isinstance(value, np.random.Generator):
        _flat(prefix + ".rng", value.bit_generator.state, out)
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        out[prefix] = value.detach().cpu().numpy().copy()
    elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in value):
        out[prefix] = np.asarray(value)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flat(f"{prefix}[{i}]", v, out)
    elif isinstance(value, np.ndarray):
        out[prefix] = value.copy()
    elif value is None or isinstance(value, (bool, int, float, str, np.number)):
        out[prefix] = value
    else:
        out[prefix] = repr(value)


def _train_summary(res, generator, potential, prefix=""):
    out = {prefix + "status": res.status, prefix + "message": res.message, prefix + "n_iter": res.n_iter,
           prefix + "generator_steps": res.generator_steps, prefix + "critic_updates": res.critic_updates,
           prefix + "lp_solves": res.lp_solves, prefix + "theta": np.array(generator.theta, copy=True),
           prefix + "history_keys": tuple(sorted(res.history))}
    for k, v in res.history.items():
        if k not in TIMING:
            out[f"{prefix}history.{k}"] = np.array(v, copy=True)
    cfg = {}
    _flat(prefix + "config", getattr(res, "config", {}) or {}, cfg)
    out[prefix + "config"] = cfg  # listed apart, as messages: not a result
    if hasattr(potential, "state_dict"):
        try:
            _flat(prefix + "oracle", potential.state_dict(), out)
        except Exception as exc:  # noqa: BLE001 - an oracle without state is fine
            out[prefix + "oracle"] = f"no state: {type(exc).__name__}"
    return out


def _train_runs():
    """The neutral generator runs: ``(name, overrides of TRAIN_DEFAULTS)``."""
    runs = []
    for (method, K), oracle, opt in itertools.product(
            (("w1fe", 1), ("w1fe", 4), ("wgan", 1), ("naive_same", 3), ("naive_fresh", 3)), ("exact", "critic"),
            ("adam", "sgd")):
        kw = dict(method=method, K=K, oracle=oracle, optimizer=opt, lr=2e-3 if opt == "adam" else 5e-2)
        runs.append((f"{method}-K{K}-{oracle}-{opt}", kw))
    runs += [
        ("w1fe-K4-exact-adam-noeval", dict(K=4, oracle="exact", held_out=False)),
        ("w1fe-K2-critic-adam-seed5-betas", dict(K=2, oracle="critic", seed=5, betas=(0.9, 0.99), eps=1e-6,
                                                 dt=0.3, batch_size=48, eval_every=3, n_iter=7)),
        ("w1fe-K4-exact-sgd-mse_mean", dict(K=4, oracle="exact", optimizer="sgd", lr=5e-2, mse="mean")),
        ("w1fe-K2-exact-adam-latent", dict(K=2, oracle="exact", latent=True, gen="mlp_latent3")),
        ("w1fe-K4-exact-adam-resume", dict(K=4, oracle="exact", resume=True, n_iter=8)),
        ("w1fe-K2-critic-adam-resume", dict(K=2, oracle="critic", resume=True, n_iter=8)),
        ("naive_same-K3-critic-sgd-resume", dict(method="naive_same", K=3, oracle="critic", optimizer="sgd",
                                                 lr=5e-2, resume=True, n_iter=8)),
        ("w1fe-K2-w2potential-adam", dict(K=2, oracle="w2")),
        ("wgan-w2potential-sgd", dict(method="wgan", oracle="w2", optimizer="sgd", lr=5e-2)),
        ("wgan-ratio_vanilla_gan-adam", dict(method="wgan", oracle="ratio")),
        ("w1fe-K3-ratio_vanilla_gan-sgd", dict(K=3, oracle="ratio", optimizer="sgd", lr=5e-2)),
        ("torch-mlp-w1fe-K2-exact-adam", dict(K=2, oracle="exact", backend="torch", torch=True)),
        ("torch-mlp-wgan-critic-sgd", dict(method="wgan", oracle="critic", optimizer="sgd", lr=5e-2,
                                           backend="torch", torch=True)),
        ("torch-dcgan-w1fe-K2-exact-adam", dict(K=2, oracle="exact", backend="torch", gen="dcgan", n_iter=3,
                                                eval_samples=40, torch=True)),
        ("torch-dcgan-wgan-torchcritic-adam", dict(method="wgan", oracle="torch_critic", backend="torch",
                                                   gen="dcgan", n_iter=3, eval_samples=40, lr=1e-3, seed=4,
                                                   torch=True)),
    ]
    return runs


def _train_case(w1flow, run, tmp):
    run = dict(TRAIN_DEFAULTS, **run)
    if run.pop("torch", False) and not _torch_available():
        return {"not_comparable": "torch does not import here"}
    gen_kind = run.pop("gen", "mlp")
    oracle_kind = run.pop("oracle")
    resume = run.pop("resume", False)
    data, held = _train_data(gen_kind)
    if not run["held_out"]:
        held = None
    latent = eval_latent = None
    if run["latent"]:
        rng = np.random.default_rng(21)
        latent = rng.standard_normal((300, 3)) * 0.5 + 1.0
        eval_latent = rng.standard_normal((run["eval_samples"], 3)) * 0.5 + 1.0
    spell = _train_new if _new_train_api(w1flow) else _train_old
    if not resume:
        gen, pot = _generator(w1flow, gen_kind), _oracle(w1flow, oracle_kind)
        res = spell(w1flow, gen, data, pot, run, held, latent, eval_latent, None)
        return _train_summary(res, gen, pot)
    ck = os.path.join(tmp, f"gen{np.random.default_rng().integers(1 << 62)}.ckpt")
    gen, pot = _generator(w1flow, gen_kind), _oracle(w1flow, oracle_kind, interrupt_at=4)
    part = spell(w1flow, gen, data, pot, run, held, latent, eval_latent, w1flow.Checkpoint(ck, every=2))
    out = _train_summary(part, gen, pot, prefix="part.")
    gen, pot = _generator(w1flow, gen_kind), _oracle(w1flow, oracle_kind, interrupt_at=-1)
    done = spell(w1flow, gen, data, pot, run, held, latent, eval_latent, w1flow.Checkpoint(ck, every=2, resume=True))
    out.update(_train_summary(done, gen, pot))
    return out


def _reference_runs():
    """``wgan_gp_reference`` runs (torch), in the keywords of b4824c1."""
    base = dict(n_iter=3, batch_size=32, n_critic=2, warmup=1, penalty=10.0, lr=1e-3, critic_lr=1e-3,
                betas=(0.5, 0.9), critic="dcgan", critic_hidden=(64, 64), image_shape=(8, 8), channels=(4, 8),
                critic_seed=7, fresh_batches=True, held_out=True, eval_every=2, eval_samples=40, seed=4)
    return [("wgan_gp_reference-dcgan-fresh", base),
            ("wgan_gp_reference-mlp-same", dict(base, critic="mlp", critic_hidden=(16,), fresh_batches=False,
                                                penalty=5.0, warmup=0, seed=2))]


def _reference_new(w1flow, fn, generator, data, run, held):
    """ADAPTER: ``wgan_gp_reference`` in the new API, ``(generator, data, critic=GPCritic(kind, hidden,
    image_shape, channels, seed, n_critic, warmup, penalty, optimizer=Adam(critic_lr, betas),
    fresh_batches), *, n_iter, batches, optimizer, evaluation, ...)``. The signature is read and
    each old keyword placed in the group it names; returns ``(None, why)`` when one has no place."""
    import inspect

    import w1flow.generative as G

    params = inspect.signature(fn).parameters
    kw, left = {}, dict(run)
    left.pop("held_out")
    gp_critic = getattr(G, "GPCritic", None) or getattr(importlib.import_module(fn.__module__), "GPCritic", None)
    if "critic" in params and gp_critic is not None:
        kw["critic"] = gp_critic(kind=left.pop("critic"), hidden=left.pop("critic_hidden"),
                                 image_shape=left.pop("image_shape"), channels=left.pop("channels"),
                                 seed=left.pop("critic_seed"), n_critic=left.pop("n_critic"),
                                 warmup=left.pop("warmup"), penalty=left.pop("penalty"),
                                 optimizer=G.Adam(lr=left.pop("critic_lr"), betas=left["betas"]),
                                 fresh_batches=left.pop("fresh_batches"))
    if "batches" in params:
        kw["batches"] = G.Batches(size=left.pop("batch_size"), seed=left.pop("seed"))
    if "optimizer" in params:
        kw["optimizer"] = G.Adam(lr=left.pop("lr"), betas=left.pop("betas"))
    if "evaluation" in params:
        kw["evaluation"] = G.Evaluation(held_out=held, every=left.pop("eval_every"), samples=left.pop("eval_samples"))
    else:
        left["held_out"] = held
    missing = [k for k in left if k not in params or k == "critic"]
    if missing:
        return None, f"API missing: wgan_gp_reference has no place for {missing}"
    kw.update(left)
    return fn(generator, data, **kw), None


def _reference_case(w1flow, run):
    if not _torch_available():
        return {"not_comparable": "torch does not import here"}
    from w1flow.generative import wgan_gp_reference

    gen = _generator(w1flow, "dcgan")
    data, held = _train_data("dcgan")
    run = dict(run)
    if _new_train_api(w1flow):
        res, why = _reference_new(w1flow, wgan_gp_reference, gen, data, run, held)
        if res is None:
            return {"not_comparable": why}
    else:
        run["held_out"] = held
        res = wgan_gp_reference(gen, data, **run)
    return _train_summary(res, gen, None)


def _generator_cases(w1flow):
    for name, run in _train_runs():
        yield name, (lambda tmp, run=run: _train_case(w1flow, run, tmp))
    for name, run in _reference_runs():
        yield name, (lambda tmp, run=run: _reference_case(w1flow, run))


# -- sweeps: a flow sweep through w1flow.sweep.run_sweep, and the W1-FE K-study cells ----------------
SWEEP_TOML = """
[data]
dataset = "eight_gaussians"
n = 30
seed = 1

[particles]
dataset = "gaussian_blob"
n = 30
seed = 0
center = [3.0, 0.0]

[solver]
kind = "euler"

[run]
t1 = 1.0
dt = 0.1
save_every = 5

[sweep]
"solver.kind" = ["euler", "capped_euler"]
"run.dt" = [0.1, 0.2]
"""


def _flow_sweep(w1flow, tmp):
    """The 2×2 flow sweep, serial: ``{cell name: summary}`` (one entry per cell, plus the re-run)."""
    from w1flow.sweep import read_store, run_sweep

    folder = Path(tmp) / f"sweep{np.random.default_rng().integers(1 << 62)}"
    folder.mkdir()
    cfg = folder / "sweep.toml"
    cfg.write_text(SWEEP_TOML)
    store = folder / "store"
    report = run_sweep(cfg, store=store, workers=1, summary=False)
    records = read_store(store)
    out = {}
    for c in report.cells:
        name = "flow-sweep[" + ",".join(f"{k}={v}" for k, v in c.params.items()) + "]"
        rec = records.get(c.fingerprint)
        s = {"index": c.index, "fingerprint": c.fingerprint, "params": tuple(sorted(c.params.items())),
             "config": {}}
        _flat("config", c.config, s["config"])
        if rec is None or "path" not in rec:
            s["record"] = "missing"
        else:
            s["record_status"] = rec["status"]
            res = w1flow.FlowResult.load(rec["path"])
            s.update({k: v for k, v in _summary(res).items()})
            s["xs"] = np.stack([np.asarray(x) for x in res.xs])
            s["weights"] = np.stack([np.asarray(a) for a in res.weights])
        out[name] = s
    again = run_sweep(cfg, store=store, workers=1, summary=False)
    out["flow-sweep[re-run]"] = {"cells": len(again.cells), "ran": again.ran, "skipped": again.skipped,
                                 "to_run": again.to_run, "failed": tuple(again.failed),
                                 "names": tuple(c.fingerprint for c in again.cells)}
    return out


#: The W1-FE K-study cells (target, method, K, dt, seed, mode) on a tiny budget.
KSTUDY_CELLS = (("8 Gaussians", "w1fe", 1, 0.1, 0, "critic"), ("8 Gaussians", "w1fe", 4, 0.1, 0, "exact"),
                ("two moons", "wgan", 1, 0.1, 1, "exact"), ("swiss roll", "naive_same", 2, 0.1, 0, "critic"),
                ("25 Gaussians", "naive_fresh", 2, 0.1, 0, "exact"), ("8 Gaussians", "w1fe", 4, 0.5, 1, "critic"))
KSTUDY_TINY = dict(critic_updates=30, n_warmup=20, exact_steps=3, eval_samples=100, n_data=400, batch_size=64)


def _module_or_none(name):
    """The module ``name``, or None where this version of w1flow has no such module."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _kstudy_cell(w1flow, tmp, target, method, K, dt, seed, mode):
    """ADAPTER (the one place that knows where the K study lives): one K-study cell as a dict of
    ``experiments.run_cell``'s fields, or ``{"not_comparable": ...}`` when this version has no API
    that runs it. In order of preference: a generator cell of the experiment runner (a one-cell
    generator sweep through ``w1flow.sweep.run_sweep``, its record a ``TrainResult``:
    :func:`_kstudy_via_runner`), else ``w1flow.generative.experiments.run_cell(target, method, K, dt,
    seed, mode, **overrides)`` (b4824c1: the reference the runner's cell must equal)."""
    import inspect

    kinds = _module_or_none("w1flow.sweep.kinds")
    if kinds is not None and "generator" in getattr(kinds, "KINDS", {}):
        return _kstudy_via_runner(w1flow, tmp, target, method, K, dt, seed, mode)
    ex = _module_or_none("w1flow.generative.experiments")
    run_cell = getattr(ex, "run_cell", None)
    if run_cell is not None:
        params = inspect.signature(run_cell).parameters
        if list(params)[:6] == ["target", "method", "K", "dt", "seed", "mode"]:
            return run_cell(target, method, K, dt, seed, mode, **KSTUDY_TINY)
    return {"not_comparable": "API missing: neither a generator cell kind in w1flow.sweep nor "
                              "experiments.run_cell(target, method, K, dt, seed, mode, ...)"}


def _kstudy_sweep_config(target, method, K, dt, seed, mode):
    """The K-study cell of ``experiments.run_cell(target, method, K, dt, seed, mode, **KSTUDY_TINY)`` at
    b4824c1 as a generator sweep config of the runner (one cell): the same data stream ``[seed, 7]``
    (training points, then ``eval_samples`` held-out ones), seeds, network, critic, budget and
    evaluation schedule."""
    d = dict(n_data=20_000, eval_samples=2000, batch_size=256, hidden=(64, 64), critic_hidden=(48, 48), n_critic=5,
             n_warmup=500, lr=1e-3, betas=(0.5, 0.9), critic_updates=3000, exact_steps=300, eval_every=None,
             penalty="two-sided")  # experiments.DEFAULTS at b4824c1
    cfg = dict(d, **KSTUDY_TINY)
    if mode == "exact":
        n_iter, potential = cfg["exact_steps"], {"kind": "exact"}
    else:
        n_iter = max(1, (cfg["critic_updates"] - cfg["n_warmup"]) // cfg["n_critic"] + 1)
        potential = {"kind": "critic", "hidden": list(cfg["critic_hidden"]), "n_critic": cfg["n_critic"],
                     "n_warmup": cfg["n_warmup"], "penalty": cfg["penalty"]}
    meth = {"name": method, "K": K, "dt": dt} if method == "w1fe" else \
        {"name": method} if method == "wgan" else {"name": method, "K": K}
    return {"generator": {"hidden": list(cfg["hidden"])},
            "data": {"target": target, "n": cfg["n_data"], "held_out": cfg["eval_samples"]},
            "potential": potential, "method": meth,
            "optimizer": {"lr": cfg["lr"], "betas": list(cfg["betas"])}, "batches": {"size": cfg["batch_size"]},
            "evaluation": {"every": cfg["eval_every"] or max(1, n_iter // 6), "samples": cfg["eval_samples"]},
            "train": {"n_iter": n_iter, "seed": seed}, "sweep": {"train.seed": [seed]}}


def _kstudy_via_runner(w1flow, tmp, target, method, K, dt, seed, mode):
    """The K-study cell through the experiment runner's generator cells, in the fields of
    ``experiments.run_cell`` (those the record gives: :data:`KSTUDY_FIELDS`)."""
    from w1flow.generative import TrainResult
    from w1flow.sweep import read_store, run_sweep

    store = Path(tmp) / f"kstudy{np.random.default_rng().integers(1 << 62)}"
    report = run_sweep(_kstudy_sweep_config(target, method, K, dt, seed, mode), store=store, workers=1,
                       summary=False)
    if report.failed:
        return {"error": "cell failed", "message": str(report.failed)}
    (rec,) = read_store(store).values()
    res = TrainResult.load(rec["path"])
    h = res.history
    ok = np.isfinite(h["w1"])
    cell = dict(
        target=target, method=method, K=K, dt=dt, seed=seed, mode=mode, status=res.status, n_iter=res.n_iter,
        iteration=h["iteration"][ok].tolist(), w1=h["w1"][ok].tolist(),
        critic_steps=h["critic_steps"][ok].tolist(), generator_steps=h["generator_steps"][ok].tolist(),
        critic_dual=float(h["critic_dual"][-1]) if h["critic_dual"].size else None,
        reach=float(np.nanmedian(h["displacement"] / h["target_displacement"])) if method == "w1fe" else None,
        final_w1=float(h["w1"][ok][-1]) if ok.any() else None)
    if res.generator is not None:
        cell["samples"] = res.generator.sample(500, seed=np.random.default_rng([seed, 3])).round(4).tolist()
    return cell


#: The fields of a K-study cell compared: those the runner's record gives as well as run_cell (its
#: config is a generator config, not run_cell's DEFAULTS; timings are left out).
KSTUDY_FIELDS = ("target", "method", "K", "dt", "seed", "mode", "status", "n_iter", "iteration", "w1",
                        "critic_steps", "generator_steps", "critic_dual", "reach", "final_w1", "samples")


def _kstudy_summary(cell):
    if "not_comparable" in cell or "error" in cell:
        return cell
    out = {}
    for k, v in cell.items():
        if k not in KSTUDY_FIELDS:
            continue
        if isinstance(v, list):
            out[k] = np.asarray(v, dtype=float) if k not in ("iteration", "critic_steps", "generator_steps") \
                else np.asarray(v)
        else:
            out[k] = v
    return out


def _noise_floor(w1flow, target, n, seed):
    """ADAPTER: the noise floor of a K-study target (experiments.noise_floor at b4824c1; the one
    evaluation module's ``noise_floor(target_or_sampler, n, seed)`` after the change)."""
    ex = _module_or_none("w1flow.generative.experiments")
    fn = getattr(ex, "noise_floor", None)
    if fn is not None:
        return {"value": fn(target, n=n, seed=seed)}
    try:
        ev = importlib.import_module("w1flow.generative.evaluation")
        return {"value": ev.noise_floor(target, n=n, seed=seed)}
    except (ImportError, AttributeError, TypeError, KeyError, ValueError) as exc:
        return {"not_comparable": f"API missing: noise_floor ({type(exc).__name__}: {exc})"}


def _sweep_cases(w1flow):
    cache = {}

    def flow_cell(tmp, name):
        if "flow" not in cache:
            try:
                cache["flow"] = _flow_sweep(w1flow, tmp)
            except Exception as exc:  # noqa: BLE001 - an error is a behaviour too
                cache["flow"] = {"error": type(exc).__name__, "message": str(exc)}
        flow = cache["flow"]
        if "error" in flow:
            return flow
        return flow.get(name, {"error": "missing", "message": f"no cell {name} in the sweep"})

    names = ["flow-sweep[" + ",".join(f"{k}={v}" for k, v in (("solver.kind", s), ("run.dt", d))) + "]"
             for s in ("euler", "capped_euler") for d in (0.1, 0.2)] + ["flow-sweep[re-run]"]
    for name in names:
        yield name, (lambda tmp, name=name: flow_cell(tmp, name))
    for spec in KSTUDY_CELLS:
        name = "kstudy-" + "-".join(str(v).replace(" ", "_") for v in spec)
        yield name, (lambda tmp, spec=spec: _kstudy_summary(_kstudy_cell(w1flow, tmp, *spec)))
    for target in ("8 Gaussians", "two moons"):
        yield f"noise_floor-{target.replace(' ', '_')}", (lambda tmp, t=target: _noise_floor(w1flow, t, 300, 0))


GROUPS = ("flows", "generators", "sweeps")


def _record_flows(w1flow, tmp, results):
    new_api = hasattr(w1flow, "SaveAt")
    for name, case in _cases(w1flow):
        spellings = (False, True) if new_api and not getattr(case, "one_spelling", False) else (False,)
        for new in spellings:
            try:
                res = case(tmp, new)
                val = res if isinstance(res, dict) else _summary(res)
            except Exception as exc:  # an error is a behaviour too
                val = {"error": type(exc).__name__, "message": str(exc)}
            results[name + ("@new" if new else "")] = val


def _record_group(cases, tmp, results):
    for name, case in cases:
        try:
            val = case(tmp)
        except Exception as exc:  # an error is a behaviour too
            val = {"error": type(exc).__name__, "message": str(exc)}
        results[name] = val
        print(f"  {name}: " + ("not comparable" if "not_comparable" in val else
                               f"error {val['error']}" if "error" in val else val.get("status", "recorded")),
              file=sys.stderr, flush=True)


def record(out, groups=GROUPS):
    import w1flow

    results = {g: {} for g in groups}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "flows" in groups:
            _record_flows(w1flow, tmp, results["flows"])
        if "generators" in groups:
            _record_group(_generator_cases(w1flow), tmp, results["generators"])
        if "sweeps" in groups:
            _record_group(_sweep_cases(w1flow), tmp, results["sweeps"])
    with open(out, "wb") as fh:
        pickle.dump({"version": w1flow.__version__, "path": w1flow.__file__, "groups": results,
                     "new_train_api": _new_train_api(w1flow)}, fh)
    print(f"recorded {sum(map(len, results.values()))} runs ({', '.join(f'{g}: {len(r)}' for g, r in results.items())})"
          f" of w1flow at {w1flow.__file__} (train API: {'new' if _new_train_api(w1flow) else 'old'}) into {out}")


def _equal(u, v):
    """Bitwise: arrays by dtype, shape and bytes (NaN equals NaN, -0.0 differs from 0.0), floats by
    their bits, the rest by ``==``."""
    if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
        if not (isinstance(u, np.ndarray) and isinstance(v, np.ndarray)):
            return False
        if u.dtype != v.dtype or u.shape != v.shape:
            return False
        if u.dtype == object:
            return all(_equal(a, b) for a, b in zip(u.ravel(), v.ravel()))
        return u.tobytes() == v.tobytes()
    if isinstance(u, (float, np.floating)) and isinstance(v, (float, np.floating)):
        return np.float64(u).tobytes() == np.float64(v).tobytes()
    if isinstance(u, dict) and isinstance(v, dict):
        return u.keys() == v.keys() and all(_equal(u[k], v[k]) for k in u)
    if isinstance(u, (list, tuple)) and isinstance(v, (list, tuple)):
        return type(u) is type(v) and len(u) == len(v) and all(_equal(a, b) for a, b in zip(u, v))
    try:
        return bool(u == v)
    except Exception:  # noqa: BLE001
        return False


def _soft(field):
    """Fields listed apart (wording and bookkeeping, not results): messages and config dicts."""
    last = field.rsplit(".", 1)[-1]
    return last in ("message", "config")


def _show(f, u, v):
    if isinstance(u, np.ndarray) and isinstance(v, np.ndarray):
        if u.shape != v.shape or u.dtype != v.dtype:
            return f"{f} ({u.dtype}{list(u.shape)} -> {v.dtype}{list(v.shape)})"
        if u.dtype.kind == "f":
            err = float(np.nanmax(np.abs(u - v), initial=0.0)) if u.size else 0.0
            return f"{f} (max |diff| {err:.3g})"
        return f"{f} ({int(np.sum(u != v))} entries)"
    text = f"{f}: {u!r} -> {v!r}"
    return text if len(text) < 200 else text[:200] + "..."


def _compare_group(group, ref, new):
    """Counts and listings of one group; returns ``(compared, equal, diffs, not_comparable)``."""
    diffs, messages, not_comparable = [], [], []
    n_same = n_compared = 0
    for name in sorted(ref):
        r = ref[name]
        candidates = [(name, new.get(name))]
        if name + "@new" in new:
            candidates.append((name + "@new", new[name + "@new"]))
        for key, n in candidates:
            n_compared += 1
            if n is None:
                diffs.append((key, "missing in the new run"))
                continue
            if "not_comparable" in r or "not_comparable" in n:
                why = "; ".join(f"{side}: {d['not_comparable']}" for side, d in (("ref", r), ("new", n))
                                if "not_comparable" in d)
                not_comparable.append((key, why))
                continue
            if "error" in r or "error" in n:
                if r.get("error") != n.get("error"):
                    diffs.append((key, f"error {r.get('error')} ({r.get('message')}) -> "
                                       f"{n.get('error')} ({n.get('message')})"))
                else:
                    n_same += 1
                    if r.get("message") != n.get("message"):
                        messages.append((key, "message", r.get("message"), n.get("message")))
                continue
            fields = list(r) + [f for f in n if f not in r]
            bad = []
            for f in fields:
                if f not in r or f not in n:
                    bad.append(f"{f} {'only in the new run' if f not in r else 'missing in the new run'}")
                elif _soft(f):
                    if not _equal(r[f], n[f]):
                        messages.append((key, f, r[f], n[f]))
                elif not _equal(r[f], n[f]):
                    bad.append(_show(f, r[f], n[f]))
            if bad:
                diffs.append((key, "; ".join(bad)))
            else:
                n_same += 1
    extra = sorted(set(k.replace("@new", "") for k in new) - set(ref))
    print(f"== {group}: {len(ref)} runs recorded, {n_compared} comparisons (a run of the old spelling is also "
          f"compared with its new spelling), {n_same} bitwise equal, {len(diffs)} differ, "
          f"{len(not_comparable)} not comparable" if n_compared != len(ref) else
          f"== {group}: {n_compared} runs compared, {n_same} bitwise equal, {len(diffs)} differ, "
          f"{len(not_comparable)} not comparable")
    for key, what in diffs:
        print(f"  DIFFERS {key}: {what}")
    for key, why in not_comparable:
        print(f"  NOT COMPARABLE {key}: {why}")
    if messages:
        print(f"  {len(messages)} messages/configs differ (listed, not counted as differences):")
        for key, f, old, new_msg in messages:
            if isinstance(old, dict) and isinstance(new_msg, dict):
                ks = sorted(k for k in set(old) | set(new_msg) if not _equal(old.get(k), new_msg.get(k)))
                print(f"    {key} {f}: keys {ks[:8]}{'...' if len(ks) > 8 else ''}")
                for k in ks[:8]:
                    print(f"       {k}: {old.get(k, '<absent>')!r} -> {new_msg.get(k, '<absent>')!r}")
            else:
                print(f"    {key} {f}:\n       old: {old}\n       new: {new_msg}")
    if extra:
        print(f"  {len(extra)} runs only in the new version: {extra[:5]}...")
    return n_compared, n_same, diffs, not_comparable


def _load(path):
    d = pickle.load(open(path, "rb"))
    return d["groups"] if "groups" in d else {"flows": d["results"]}


def compare(ref_file, new_file, allowed=()):
    ref, new = _load(ref_file), _load(new_file)
    counts = {}
    for group in GROUPS:
        if group in ref:
            counts[group] = _compare_group(group, ref[group], new.get(group, {}))
    print("\nper group (comparisons / bitwise equal / differ / not comparable; one comparison per run, except "
          "flows, whose old-spelling runs are also compared with their new spelling):")
    for group, (n, same, diffs, nc) in counts.items():
        print(f"  {group}: {n} / {same} / {len(diffs)} / {len(nc)}")
    if any(c[2] for c in counts.values()):
        return 1
    return 2 if any(c[3] for c in counts.values()) else 0


def against(rev, groups=GROUPS):
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), rev], check=True,
                       capture_output=True)
        try:
            ref_out, new_out = Path(tmp) / "ref.pkl", Path(tmp) / "new.pkl"
            for tree, out in ((wt, ref_out), (ROOT, new_out)):
                env = dict(os.environ, PYTHONPATH=str(tree))
                subprocess.run([sys.executable, str(Path(__file__).resolve()), "record", str(out),
                                "--only", ",".join(groups)], check=True, env=env, cwd=tmp)
            return compare(ref_out, new_out)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], check=False)


def _groups(text):
    if not text:
        return GROUPS
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        raise SystemExit(f"--only takes {'|'.join(GROUPS)} (comma-separated), got {bad}")
    return groups


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", choices=("record", "compare"))
    p.add_argument("files", nargs="*")
    p.add_argument("--against", help="git revision to compare this tree with")
    p.add_argument("--only", help="run only these groups: flows, generators, sweeps (comma-separated)")
    args = p.parse_args(argv)
    groups = _groups(args.only)
    if args.against:
        return against(args.against, groups)
    if args.mode == "record":
        record(args.files[0], groups)
        return 0
    if args.mode == "compare":
        return compare(*args.files[:2])
    p.error("give --against REV, or record OUT, or compare REF NEW")


if __name__ == "__main__":
    sys.exit(main())
