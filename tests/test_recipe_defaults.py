"""The recipe (w1flow.generative.recipe) is what train and the option objects use by default, and
what the docs' table (docs/generative.md, "The recipe") names: each row's value is compared with the
default of the object that row names, not with the RECIPE dict."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from w1flow import CriticPotential
from w1flow.generative import W1FE, Adam, Batches, MLPGenerator
from w1flow.generative.recipe import RECIPE, recipe_critic
from w1flow.generative.trainer import _check_inputs

DOC = Path(__file__).resolve().parents[1] / "docs" / "generative.md"


def _doc_table():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- recipe-table -->")
    rows = {}
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        m = re.match(r"\|\s*`([\w.]+)`\s*\|\s*`([^`]+)`\s*\|", line)
        if m:
            rows[m.group(1)] = ast.literal_eval(m.group(2))
    return rows


def _defaults():
    """The defaults as the objects have them (a train call's default critic and budget included)."""
    data = np.zeros((4, 2))
    _, pot, n_iter, _ = _check_inputs(MLPGenerator(), data, None, None, "numpy", Batches(seed=3))
    assert isinstance(pot, CriticPotential) and pot.seed == 3
    adam, w1fe = Adam(), W1FE()
    return {"critic.hidden": pot.hidden, "critic.penalty": pot.penalty, "critic.gp_lambda": pot.gp_lambda,
            "critic.lr": pot.lr, "critic.n_critic": pot.n_critic, "critic.n_warmup": pot.n_warmup,
            "lr": adam.lr, "betas": adam.betas, "schedule": adam.schedule, "final_lr_ratio": adam.final_lr_ratio,
            "ema": adam.ema, "K": w1fe.K, "dt": w1fe.dt, "batch_size": Batches().size, "n_iter": n_iter,
            "hidden": MLPGenerator().hidden}


def test_the_docs_table_names_every_default_as_the_objects_have_it():
    table, actual = _doc_table(), _defaults()
    assert set(table) == set(actual)
    for key, value in table.items():
        got = actual[key]
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12), key
        else:
            assert tuple(got) == tuple(value) if isinstance(value, (tuple, list)) else got == value, key


def test_the_recipe_module_agrees_with_the_objects():
    actual = _defaults()
    flat = {**{f"critic.{k}": v for k, v in RECIPE["critic"].items()}, **{k: v for k, v in RECIPE.items()
                                                                          if k != "critic"}}
    assert set(flat) == set(actual)
    for key, value in flat.items():
        assert actual[key] == value or tuple(actual[key]) == tuple(value), key
    assert recipe_critic(seed=5).seed == 5
