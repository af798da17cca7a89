"""Baseline of `w1flow.generative.train` / `wgan_gp_reference` before the [L2] API change.

    python tools/_train_baseline.py record   # old API (run on the commit before the change)
    python tools/_train_baseline.py check    # new API: every array bitwise equal to the record

Each run is written in the OLD keyword spelling; `new_call` maps it onto the new objects.
"""
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

import w1flow as wf
from w1flow.checkpoint import read_checkpoint
from w1flow.datasets import eight_gaussians
from w1flow.generative import MLPGenerator

OUT = Path("/tmp/train_baseline.pkl")
DATA = eight_gaussians(1500, seed=0)
HELD = eight_gaussians(300, seed=9)

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


class Interrupting(wf.ExactPotential):
    calls = 0
    state_dict = wf.ExactPotential.state_dict
    load_state = wf.ExactPotential.load_state

    def __call__(self, *args, **kwargs):
        type(self).calls += 1
        if type(self).calls == 4:
            raise KeyboardInterrupt
        return super().__call__(*args, **kwargs)


def gen():
    return MLPGenerator(2, 2, hidden=(16, 16), seed=5)


def exact():
    return wf.ExactPotential()


def critic():
    return wf.CriticPotential(hidden=(16,), n_critic=3, n_warmup=20, seed=0)


EV = dict(held_out=HELD, eval_every=3, eval_samples=300)
RUNS = [
    ("w1fe_K1_exact_adam", gen, exact, dict(method="w1fe", K=1, dt=0.1, n_iter=7, batch_size=64, lr=2e-3, seed=3, **EV)),
    ("w1fe_K4_exact_adam", gen, exact, dict(method="w1fe", K=4, dt=0.2, n_iter=6, batch_size=64, lr=2e-3, seed=1, **EV)),
    ("w1fe_K4_exact_sgd_mean", gen, exact, dict(method="w1fe", K=4, dt=0.1, n_iter=5, batch_size=32, lr=1e-2,
                                                optimizer="sgd", mse="mean")),
    ("w1fe_K4_critic", gen, critic, dict(method="w1fe", K=4, dt=0.1, n_iter=6, batch_size=64, lr=2e-3, **EV)),
    ("w1fe_K1_critic_betas", gen, critic, dict(method="w1fe", K=1, n_iter=5, batch_size=32, lr=1e-3,
                                               betas=(0.9, 0.99), eps=1e-6)),
    ("wgan_exact", gen, exact, dict(method="wgan", n_iter=6, batch_size=64, lr=1e-3, seed=2, **EV)),
    ("wgan_critic_sgd", gen, critic, dict(method="wgan", n_iter=6, batch_size=64, lr=1e-3, optimizer="sgd")),
    ("naive_same_K3_critic", gen, critic, dict(method="naive_same", K=3, n_iter=5, batch_size=64, lr=1e-3, **EV)),
    ("naive_fresh_K3_critic", gen, critic, dict(method="naive_fresh", K=3, n_iter=5, batch_size=64, lr=1e-3)),
    ("naive_same_K2_exact", gen, exact, dict(method="naive_same", K=2, n_iter=4, batch_size=32, lr=1e-3)),
    ("w1fe_latent_rows", gen, exact, dict(method="w1fe", K=2, n_iter=4, batch_size=32, lr=1e-3,
                                          latent=np.random.default_rng(4).standard_normal((200, 2)),
                                          eval_latent=np.random.default_rng(5).standard_normal((50, 2)),
                                          held_out=HELD, eval_every=2, eval_samples=50)),
    ("w1fe_default_eval", gen, exact, dict(n_iter=4, batch_size=32, held_out=HELD, eval_every=4)),
]
if HAVE_TORCH:
    RUNS += [
        ("torch_w1fe_K3", gen, exact, dict(method="w1fe", K=3, n_iter=4, batch_size=32, lr=1e-3, backend="torch",
                                           device="cpu", **EV)),
        ("torch_naive_same_K2_f32", gen, critic, dict(method="naive_same", K=2, n_iter=3, batch_size=32, lr=1e-3,
                                                      backend="torch", dtype="float32")),
    ]


def new_call(generator, data, potential, kw, checkpoint=None):
    from w1flow.generative import (W1FE, WGAN, Adam, Batches, Evaluation, NaiveFresh, NaiveSame, SGD,
                                   TorchBackend, train)

    kw = dict(kw)
    name = kw.pop("method", "w1fe")
    K, dt, mse = kw.pop("K", 1), kw.pop("dt", 0.1), kw.pop("mse", "sum")
    method = {"w1fe": lambda: W1FE(K=K, dt=dt, mse=mse), "wgan": lambda: WGAN(),
              "naive_same": lambda: NaiveSame(K=K), "naive_fresh": lambda: NaiveFresh(K=K)}[name]()
    batches = Batches(size=kw.pop("batch_size", 256), seed=kw.pop("seed", 0), latent=kw.pop("latent", None))
    lr = kw.pop("lr", 1e-4)
    if kw.pop("optimizer", "adam") == "sgd":
        opt = SGD(lr=lr)
    else:
        opt = Adam(lr=lr, betas=kw.pop("betas", (0.5, 0.9)), eps=kw.pop("eps", 1e-8))
    ev = Evaluation(held_out=kw.pop("held_out", None), every=kw.pop("eval_every", None),
                    samples=kw.pop("eval_samples", 2000), latent=kw.pop("eval_latent", None))
    backend = kw.pop("backend", "numpy")
    if backend == "torch":
        backend = TorchBackend(device=kw.pop("device", None), dtype=kw.pop("dtype", "float64"))
    n_iter = kw.pop("n_iter")
    assert not kw, kw
    return train(generator, data, potential, method, n_iter=n_iter, batches=batches, optimizer=opt,
                 evaluation=ev, checkpoint=checkpoint, backend=backend)


def old_call(generator, data, potential, kw, checkpoint=None):
    from w1flow.generative import train

    return train(generator, data, potential, checkpoint=checkpoint, **kw)


def summary(res, ck):
    out = {"theta": res.generator.theta.copy(), "status": res.status, "message": res.message,
           "n_iter": res.n_iter, "generator_steps": res.generator_steps, "critic_updates": res.critic_updates,
           "lp_solves": res.lp_solves, "config": res.config}
    out.update({f"history.{k}": v for k, v in res.history.items() if k != "wall_time"})
    if ck is not None and Path(ck).exists():
        out["fingerprint"] = read_checkpoint(ck)["fingerprint"].parts
    return out


def run_all(call):
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, g, o, kw in RUNS:
            ck = Path(tmp) / f"{name}.ckpt"
            out[name] = summary(call(g(), DATA, o(), kw, checkpoint=wf.Checkpoint(ck, every=1000)), ck)
        # one interrupt + resume
        kw = dict(method="w1fe", K=4, dt=0.1, n_iter=8, batch_size=64, lr=2e-3, **EV)
        ck = Path(tmp) / "resume.ckpt"
        Interrupting.calls = 0
        part = call(gen(), DATA, Interrupting(), kw, checkpoint=wf.Checkpoint(ck, every=2))
        out["resume_part"] = summary(part, ck)
        done = call(gen(), DATA, Interrupting(), kw, checkpoint=wf.Checkpoint(ck, resume=True))
        out["resume_done"] = summary(done, ck)
    return out


def reference_runs(new):
    if not HAVE_TORCH:
        return {}
    from w1flow.generative import TorchGenerator, wgan_gp_reference

    out = {}
    specs = [("ref_mlp_fresh", dict(n_iter=5, batch_size=32, n_critic=3, warmup=2, lr=1e-3, critic_lr=1e-3,
                                    critic="mlp", critic_hidden=(16,), held_out=HELD, eval_every=2, eval_samples=100,
                                    seed=3, num_threads=1)),
             ("ref_mlp_same", dict(n_iter=4, batch_size=32, n_critic=2, penalty=0.0, lr=1e-3, critic="mlp",
                                   critic_hidden=(8,), fresh_batches=False, seed=1, num_threads=1))]
    for name, kw in specs:
        g = TorchGenerator("mlp", 2, 2, hidden=(16,), seed=0)
        res = new_reference(g, kw) if new else wgan_gp_reference(g, DATA, **kw)
        out[name] = summary(res, None)
    return out


def new_reference(g, kw):
    from w1flow.generative import Adam, Batches, Evaluation, GPCritic, wgan_gp_reference

    kw = dict(kw)
    batches = Batches(size=kw.pop("batch_size", 256), seed=kw.pop("seed", 0), latent=kw.pop("latent", None))
    betas = kw.pop("betas", (0.5, 0.9))
    opt = Adam(lr=kw.pop("lr", 1e-4), betas=betas)
    critic = GPCritic(kind=kw.pop("critic", "dcgan"), hidden=kw.pop("critic_hidden", (64, 64)),
                    n_critic=kw.pop("n_critic", 5), warmup=kw.pop("warmup", 0), penalty=kw.pop("penalty", 10.0),
                    optimizer=Adam(lr=kw.pop("critic_lr", 1e-4), betas=betas), seed=kw.pop("critic_seed", 0),
                    fresh_batches=kw.pop("fresh_batches", True))
    ev = Evaluation(held_out=kw.pop("held_out", None), every=kw.pop("eval_every", None),
                    samples=kw.pop("eval_samples", 500))
    return wgan_gp_reference(g, DATA, critic, n_iter=kw.pop("n_iter"), batches=batches, optimizer=opt,
                             evaluation=ev, num_threads=kw.pop("num_threads", None))


def compare(a, b):
    bad, n = [], 0
    assert set(a) == set(b), set(a) ^ set(b)
    for run in a:
        assert set(a[run]) == set(b[run]), (run, set(a[run]) ^ set(b[run]))
        for key in a[run]:
            n += 1
            x, y = a[run][key], b[run][key]
            if isinstance(x, np.ndarray):  # bitwise (NaN where NaN), as np.array_equal(equal_nan=True) and more
                same = (np.array_equal(x, y, equal_nan=x.dtype.kind == "f") and x.dtype == y.dtype
                        and x.shape == y.shape and x.tobytes() == y.tobytes())
            else:
                same = x == y
            if not same:
                bad.append(f"{run}.{key}")
    return n, bad


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "record":
        res = run_all(old_call)
        res.update(reference_runs(new=False))
        OUT.write_bytes(pickle.dumps(res))
        print(f"recorded {len(res)} runs to {OUT} (torch: {HAVE_TORCH})")
    else:
        base = pickle.loads(OUT.read_bytes())
        res = run_all(new_call)
        if mode == "check-train":  # train only (wgan_gp_reference not yet at its new API)
            base = {k: v for k, v in base.items() if not k.startswith("ref_")}
        else:
            res.update(reference_runs(new=True))
        n, bad = compare(base, res)
        print(f"{len(res)} runs, {n} values compared, {len(bad)} differ: {bad}")
        sys.exit(1 if bad else 0)
