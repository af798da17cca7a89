"""Generator runs from a TOML config (``w1flow train CONFIG``, and the generator cells of ``w1flow sweep``).

A generator config has these tables; every key is checked, and an error names the table and the
key (``[method] K: W1FE(K=...) must be an integer >= 1, got 0.``)::

    [generator]                      # the network: an MLPGenerator ...
    kind = "mlp"                     #   (kind = "torch": a TorchGenerator; architecture = "dcgan",
    hidden = [64, 64]                #   "residual" or "mlp", then its options)
    latent_dim = 2                   # out_dim defaults to the data's dimension; seed to [train] seed

    [data]                           # the target: a 2-D target by its name ...
    target = "8 Gaussians"           #   ("8 Gaussians", "25 Gaussians", "two moons", "swiss roll")
    n = 20000                        # training points
    held_out = 2000                  # held-out points (drawn after the training ones), for [evaluation]
    seed = [0, 7]                    # the stream of both: an int or a list of ints; default [[train] seed, 7]
    # held_out_seed = 9              # (optional) the held-out points from a stream of their own
    # ... or a dataset of w1flow.datasets with its options: dataset = "two_moons", noise = 0.1
    # ... or a file: file = "x.npy" (or .npz with key = "y"), held_out_file = "y.npy"
    # ... or the 8x8 digits (scikit-learn): digits = "generate" or "translate" (thickened digits
    #     back to the original style; transform = "thicken", "blur" or "rotate")

    [potential]                      # the oracle: kind = "recipe" is train's default critic (the recipe,
    kind = "recipe"                  #   w1flow.generative.recipe; only a seed), or as [potential] of a flow
                                     #   config, kind and options: exact, entropic, quantile, critic, torch_critic
                                     # its seed defaults to [train] seed

    [method]                         # a generator-update rule of w1flow.generative.METHODS
    name = "w1fe"                    #   w1fe (K, dt, mse), wgan, naive_same (K), naive_fresh (K);
    K = 8                            #   or "wgan_gp_reference": the plain torch WGAN-GP loop, whose
    dt = 0.1                         #   [potential] is kind = "gp_critic" (GPCritic's fields, its kind
                                     #   as architecture; lr, betas of its Adam)

    [optimizer]                      # name = "adam" (lr, betas, eps) or "sgd" (lr); schedule ("constant",
    lr = 1e-3                        #   "cosine", "stages"), final_lr_ratio, ema (0: off); default the recipe's

    [batches]                        # size; seed defaults to [train] seed
    size = 256

    [evaluation]                     # exact W1 to the held-out points every `every` outer steps
    every = 50
    samples = 2000

    [train]
    n_iter = 300                     # outer steps (required)
    seed = 0                         # the run's seed: the default of every other seed
    backend = "numpy"                # or "torch" (device, dtype)
    # num_threads = 1                # torch threads of the wgan_gp_reference loop

    [output]
    dir = "w1flow-train"             # w1flow train writes result.npz there

:func:`load_train_config` checks a config (a file or a dict) and returns it; :func:`build_train`
builds the objects of :func:`~w1flow.generative.train` from it; :func:`run_train_config` runs it.
"""

from __future__ import annotations

import copy
import inspect
import numbers
from pathlib import Path

import numpy as np

from .._files import read_toml
from ..config import ConfigError

__all__ = ["TRAIN_TABLES", "load_train_config", "build_train", "run_train_config", "is_train_config"]

#: The tables of a generator config and their keys (None: the options of a class, checked by its signature).
TRAIN_TABLES = {
    "generator": None,
    "data": None,
    "potential": None,
    "method": None,
    "optimizer": {"name", "lr", "betas", "eps", "schedule", "final_lr_ratio", "ema"},
    "batches": {"size", "seed"},
    "evaluation": {"every", "samples"},
    "train": {"n_iter", "seed", "backend", "device", "dtype", "num_threads"},
    "output": {"dir"},
}
_REQUIRED = ("generator", "data", "potential", "method", "train")
_DATA_SOURCES = ("target", "dataset", "file", "digits")
_DATA_KEYS = {"n", "held_out", "seed", "held_out_seed", "key", "held_out_file", "transform"}
_VALIDATION_N = 8
#: The datasets of w1flow.datasets a [data] table may name (``dataset = ...``, with their options).
_DATASETS = ("eight_gaussians", "twenty_five_gaussians", "two_moons", "swiss_roll", "ring", "gaussian_blob",
             "random_mixture")


def is_train_config(raw):
    """Whether a (raw) config describes a generator run: it has a ``[generator]`` table."""
    return isinstance(raw, dict) and "generator" in raw


def _fail(table, key, problem):
    where = f"[{table}] {key}" if key else f"[{table}]"
    raise ConfigError(f"{where}: {problem}" if key else f"{where} {problem}")


def _named(table, exc, keys):
    """A ConfigError naming ``[table] key`` for the error a class raised about one of its fields."""
    text = str(exc)
    key = next((k for k in sorted(keys, key=len, reverse=True) if f"{k}=" in text or text.startswith(f"{k} ")), None)
    return ConfigError(f"[{table}] {key}: {text}" if key else f"[{table}]: {text}")


def _seed(table, key, value, list_ok=False):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0
    if list_ok and isinstance(value, list) and value:
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok:
        what = "an integer >= 0 or a list of them" if list_ok else "an integer >= 0"
        _fail(table, key, f"must be {what} (a random seed), got {value!r}.")
    return value


def _count(table, key, value, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        _fail(table, key, f"must be a whole number >= {low}, got {value!r}.")
    return int(value)


def _load(config, folder):
    if isinstance(config, (str, Path)):
        return read_toml(config, ConfigError), Path(config).resolve().parent
    if not isinstance(config, dict):
        raise ConfigError(f"a generator config is a TOML file or a dict, got {type(config).__name__}.")
    return copy.deepcopy(config), Path(folder if folder is not None else ".").resolve()


def load_train_config(config, folder=None):
    """Check a generator config (a TOML file or a dict); return it as a dict (data files absolute:
    relative paths are read from the file's folder, or ``folder`` for a dict, default the current one).

    Raises :class:`~w1flow.config.ConfigError` naming the table and key of the first problem:
    an unknown or missing table or key, a value of the wrong type (a float seed, a string K), an
    unknown target, dataset, oracle, method or optimizer.
    """
    cfg, folder = _load(config, folder)
    if "sweep" in cfg:
        raise ConfigError("[sweep]: a config with grids runs with `w1flow sweep CONFIG` (or w1flow.sweep.run_sweep), "
                          "not as one run.")
    for table in cfg:
        if table not in TRAIN_TABLES:
            raise ConfigError(f"unknown table [{table}] in a generator config; allowed: {', '.join(TRAIN_TABLES)}.")
        if not isinstance(cfg[table], dict):
            raise ConfigError(f"[{table}] must be a table of keys, got {cfg[table]!r}.")
        allowed = TRAIN_TABLES[table]
        unknown = sorted(set(cfg[table]) - allowed) if allowed is not None else []
        if unknown:
            _fail(table, unknown[0], f"unknown key; allowed: {', '.join(sorted(allowed))}.")
    for table in _REQUIRED:
        if table not in cfg:
            raise ConfigError(f"a generator config needs a [{table}] table.")
    for table in ("optimizer", "batches", "evaluation", "output"):
        cfg.setdefault(table, {})
    train = cfg["train"]
    if "n_iter" not in train:
        _fail("train", "n_iter", "is required (the number of outer steps), e.g. n_iter = 300.")
    _count("train", "n_iter", train["n_iter"])
    _seed("train", "seed", train.setdefault("seed", 0))
    if train.get("backend", "numpy") not in ("numpy", "torch"):
        _fail("train", "backend", f"must be 'numpy' or 'torch', got {train['backend']!r}.")
    for table, key in (("batches", "seed"), ("generator", "seed"), ("potential", "seed")):
        if key in cfg[table]:
            _seed(table, key, cfg[table][key])
    _check_data(cfg["data"], folder)
    for table, key in (("potential", "kind"), ("method", "name")):
        if not isinstance(cfg[table].get(key), str):
            _fail(table, key, f"is required: a name (a string), got {cfg[table].get(key)!r}.")
    return cfg


def _check_data(spec, folder):
    given = [k for k in _DATA_SOURCES if k in spec]
    if len(given) != 1:
        _fail("data", None, "needs exactly one of target = '...', dataset = '...', file = '...' or digits = '...'.")
    source = given[0]
    for key in ("seed", "held_out_seed"):
        if key in spec:
            _seed("data", key, spec[key], list_ok=True)
    if source == "target":
        from .experiments import TARGETS

        if spec["target"] not in TARGETS:
            _fail("data", "target", f"must be one of {', '.join(map(repr, TARGETS))}, got {spec['target']!r}.")
    if source == "dataset" and spec["dataset"] not in _DATASETS:
        _fail("data", "dataset", f"must be one of {', '.join(_DATASETS)}, got {spec['dataset']!r}.")
    if source in ("target", "dataset"):
        if "n" not in spec:
            _fail("data", "n", "is required: the number of training points.")
        _count("data", "n", spec["n"])
        if "held_out" in spec:
            _count("data", "held_out", spec["held_out"], low=0)
    if source == "digits" and spec["digits"] not in ("generate", "translate"):
        _fail("data", "digits", f"must be 'generate' or 'translate', got {spec['digits']!r}.")
    if source != "dataset":
        extra = sorted(set(spec) - _DATA_KEYS - {source})
        if extra:
            _fail("data", extra[0], f"unknown key; allowed with {source}: "
                                    f"{', '.join(sorted(_DATA_KEYS | {source}))}.")
    for key in ("file", "held_out_file"):
        if key in spec:
            path = Path(spec[key])
            path = path if path.is_absolute() else (folder / path).resolve()
            if not path.is_file():
                _fail("data", key, f"{str(path)!r} does not exist; fix the path (relative paths are read from "
                                   "the config's folder).")
            spec[key] = str(path)


# -- building ---------------------------------------------------------------------------------
def _data(spec, seed, small=False):
    """``(data, held_out, latent, eval_latent)`` of a [data] table."""
    source = next(k for k in _DATA_SOURCES if k in spec)
    if source == "digits":
        return _digits(spec)
    if source == "file":
        held = _points("held_out_file", spec) if "held_out_file" in spec else None
        return _points("file", spec), held, None, None
    if source == "target":
        from .experiments import TARGETS

        f, opts = TARGETS[spec["target"]], {}
    else:
        from .. import datasets

        f = getattr(datasets, spec["dataset"])
        opts = {k: v for k, v in spec.items() if k not in _DATA_KEYS | {"dataset"}}
    rng = np.random.default_rng(spec.get("seed", [seed, 7]))
    n, k = spec["n"], spec.get("held_out", 0)
    if small:
        n, k = min(n, _VALIDATION_N), min(k, _VALIDATION_N)
    try:
        data = f(n, seed=rng, **opts)
        held_rng = np.random.default_rng(spec["held_out_seed"]) if "held_out_seed" in spec else rng
        held = f(k, seed=held_rng, **opts) if k else None
    except TypeError as exc:
        raise _named("data", exc, opts) from None
    return data, held, None, None


def _points(key, spec):
    """The (m, d) points of an .npy file, or of an .npz file's array ``[data] key``."""
    path = Path(spec[key])
    where = f"[data] {key}: {str(path)!r}"
    try:
        arr = np.load(path, allow_pickle=False)
        if hasattr(arr, "files"):  # an .npz archive
            with arr as npz:
                name = spec.get("key", npz.files[0] if len(npz.files) == 1 else None)
                if name not in npz.files:
                    _fail("data", "key", f"must be one of {', '.join(npz.files)} (the array of {path.name}).")
                arr = npz[name]
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{where} is not a numpy array file (.npy, or .npz with key = ...): {exc}") from None
    if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2) or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ConfigError(f"{where} must hold finite points as a numeric array of shape (m, d), got {arr.dtype} of "
                          f"shape {arr.shape}.")
    arr = np.asarray(arr, dtype=float)
    return arr if arr.ndim == 2 else arr[:, None]


def _digits(spec):
    from ..datasets import digits, transform_digits

    x_train, _ = digits("train")
    x_held, _ = digits("held_out")
    if spec["digits"] == "generate":
        return x_train, x_held, None, None
    kind = spec.get("transform", "thicken")
    half = x_train.shape[0] // 2
    return x_train[half:], x_held, transform_digits(x_train[:half], kind), transform_digits(x_held, kind)


def _options(table, spec, factory, reserved, defaults=()):
    """The keyword options of ``factory`` in ``spec`` (reserved keys aside), checked by its signature."""
    params = inspect.signature(factory).parameters
    allowed = {k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    opts = {k: v for k, v in spec.items() if k not in reserved}
    unknown = sorted(set(opts) - allowed)
    if unknown:
        _fail(table, unknown[0], f"unknown key (options of {factory.__name__}: {', '.join(sorted(allowed))}).")
    for k, v in defaults:
        if k in allowed:
            opts.setdefault(k, v)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}


def _make(table, factory, opts):
    try:
        return factory(**opts)
    except (TypeError, ValueError) as exc:
        raise _named(table, exc, opts) from None


def _generator(spec, seed, d):
    spec = dict(spec)
    kind = spec.pop("kind", "mlp")
    if kind == "mlp":
        from .generator import MLPGenerator as cls
    elif kind == "torch":
        from .torch_generator import TorchGenerator as cls

        if "architecture" in spec:
            spec["kind"] = spec.pop("architecture")
    else:
        _fail("generator", "kind", f"must be 'mlp' (MLPGenerator) or 'torch' (TorchGenerator), got {kind!r}.")
    return _make("generator", cls, _options("generator", spec, cls, set(), (("out_dim", d), ("seed", seed))))


def _oracles():
    """The potential oracles by name: the registry's (w1flow.registry.ORACLES), and torch_critic."""
    from ..registry import ORACLES

    table = dict(ORACLES)
    try:
        from ..potentials.torch_critic import TorchCriticPotential
    except ImportError:  # torch is optional
        TorchCriticPotential = None
    if TorchCriticPotential is not None:
        table["torch_critic"] = TorchCriticPotential
    return table


def _gp_critic(spec, seed):
    """The critic of the plain torch loop (``[method] name = "wgan_gp_reference"``)."""
    from .options import Adam
    from .torch_reference import GPCritic

    spec = {k: v for k, v in spec.items() if k != "kind"}
    if "architecture" in spec:  # GPCritic's own kind: "dcgan" or "mlp"
        spec["kind"] = spec.pop("architecture")
    adam = _make("potential", Adam, {**_plain_adam_fields(),
                                     **{k: spec.pop(k) for k in ("lr", "betas", "eps") if k in spec}})
    return _make("potential", GPCritic, {**_options("potential", spec, GPCritic, {"optimizer"}, (("seed", seed),)),
                                         "optimizer": adam})


def _potential(spec, seed, method):
    if method == _REFERENCE or spec["kind"] == "gp_critic":
        if method != _REFERENCE or spec["kind"] != "gp_critic":
            _fail("potential", "kind", "'gp_critic' goes with [method] name = 'wgan_gp_reference' (the plain torch "
                                       f"loop) and only with it; got kind {spec['kind']!r} with method {method!r}.")
        return _gp_critic(spec, seed)
    if spec["kind"] == "recipe":  # train's default critic (w1flow.generative.recipe)
        from .recipe import recipe_critic

        extra = sorted(set(spec) - {"kind", "seed"})
        if extra:
            _fail("potential", extra[0], "does not go with kind = 'recipe' (the recipe's critic takes only a seed; "
                                         "kind = 'critic' takes CriticPotential's options).")
        return recipe_critic(seed=spec.get("seed", seed))
    table = _oracles()
    if spec["kind"] not in table:
        _fail("potential", "kind", f"must be one of recipe, {', '.join(table)}, got {spec['kind']!r}.")
    cls = table[spec["kind"]]
    return _make("potential", cls, _options("potential", spec, cls, {"kind"}, (("seed", seed),)))


_REFERENCE = "wgan_gp_reference"


def _method(spec):
    from ..registry import table

    METHODS = table("GENERATOR_METHODS")
    name = spec["name"]
    if name == _REFERENCE:
        if len(spec) > 1:
            _fail("method", sorted(set(spec) - {"name"})[0], "unknown key: the plain loop's settings are its critic's, "
                                                              "in [potential] (kind = 'gp_critic').")
        return None
    if name not in METHODS:
        _fail("method", "name", f"must be one of {', '.join(METHODS)} (or {_REFERENCE}), got {name!r}.")
    cls = METHODS[name]
    return _make("method", cls, _options("method", spec, cls, {"name"}))


def _plain_adam_fields():
    """The defaults of the plain torch loop's Adam (:func:`~w1flow.generative.torch_reference.plain_adam`)
    that a config table may override."""
    from .torch_reference import plain_adam

    p = plain_adam()
    return {"lr": p.lr, "schedule": p.schedule, "ema": p.ema}


def _optimizer(spec, reference=False):
    from .options import SGD, Adam

    spec = dict(spec)
    if reference:  # the plain torch loop's Adam: torch's, with no schedule or average
        spec = {**_plain_adam_fields(), **spec}
    name = spec.pop("name", "adam")
    classes = {"adam": Adam, "sgd": SGD}
    if name not in classes:
        _fail("optimizer", "name", f"must be 'adam' or 'sgd', got {name!r}.")
    return _make("optimizer", classes[name], _options("optimizer", spec, classes[name], set()))


def build_train(cfg, small=False):
    """The arguments of :func:`~w1flow.generative.train` for a checked generator config (a dict:
    ``generator``, ``data``, ``potential``, ``method``, ``n_iter``, ``batches``, ``optimizer``,
    ``evaluation``, ``backend``). ``small`` draws a few data points only (to validate a config)."""
    from .options import Batches, Evaluation, TorchBackend

    seed = cfg["train"]["seed"]
    data, held, latent, eval_latent = _data(cfg["data"], seed, small)
    ev = cfg["evaluation"]
    evaluation = {"held_out": held, "latent": eval_latent, **{k: ev[k] for k in ("every", "samples") if k in ev}}
    if held is None and "every" in ev:
        _fail("evaluation", "every", "needs held-out points: [data] held_out = N (or held_out_file).")
    train = cfg["train"]
    backend = train.get("backend", "numpy")
    if backend == "torch" and ("device" in train or "dtype" in train):
        backend = _make("train", TorchBackend, {k: train[k] for k in ("device", "dtype") if k in train})
    if "num_threads" in train:
        _count("train", "num_threads", train["num_threads"])
        if cfg["method"]["name"] != _REFERENCE:
            _fail("train", "num_threads", "is for [method] name = 'wgan_gp_reference'; train's torch threads are "
                                          "the potential's (num_threads of torch_critic).")
    return dict(generator=_generator(cfg["generator"], seed, data.shape[1]), data=data,
                potential=_potential(cfg["potential"], seed, cfg["method"]["name"]), method=_method(cfg["method"]),
                n_iter=train["n_iter"],
                batches=_make("batches", Batches, {"seed": seed, "latent": latent, **cfg["batches"]}),
                optimizer=_optimizer(cfg["optimizer"], cfg["method"]["name"] == _REFERENCE), evaluation=_make("evaluation", Evaluation, evaluation),
                backend=backend)


def run_train_config(config, checkpoint=None, progress=False):
    """Run a generator config (a TOML file or a dict): :func:`load_train_config`, then
    :func:`~w1flow.generative.train`; returns its :class:`~w1flow.generative.TrainResult`."""
    from .options import Evaluation
    from .trainer import train

    cfg = load_train_config(config)
    args = build_train(cfg)
    if progress:
        e = args["evaluation"]
        args["evaluation"] = Evaluation(held_out=e.held_out, every=e.every, samples=e.samples, latent=e.latent,
                                        progress=True)
    if cfg["method"]["name"] == _REFERENCE:
        from .torch_reference import wgan_gp_reference

        if checkpoint is not None:
            raise ConfigError("the plain torch loop (wgan_gp_reference) takes no checkpoint.")
        args.pop("method")
        return wgan_gp_reference(critic=args.pop("potential"), num_threads=cfg["train"].get("num_threads"), **args)
    return train(**args, checkpoint=checkpoint)
