"""The seams of the package, checked on its source: what imports what, where each concept lives."""

import ast
import inspect
from pathlib import Path

import pytest

import w1flow
from w1flow import solvers

PKG = Path(w1flow.__file__).resolve().parent


def _tree(relpath):
    return ast.parse((PKG / relpath).read_text(), filename=relpath)


def _imported_modules(tree, package):
    """Every module an ``import``/``from`` statement names, anywhere in the file (resolved)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def test_solvers_import_no_potential_module():
    """Time stepping only: the plan machinery is reached through the potential object."""
    mods = set().union(*(_imported_modules(_tree(str(p.relative_to(PKG))), "w1flow.solvers")
                         for p in sorted((PKG / "solvers").glob("*.py"))))
    assert "w1flow.solvers.base" in mods  # the relative imports were resolved
    banned = [m for m in mods for p in ("exact", "entropic", "critic", "quantile")
              if m.startswith("w1flow.potentials") and p in m]
    assert not banned, banned
    assert not any(m.startswith("w1flow.potentials") for m in mods), mods


def test_the_import_checker_sees_function_level_imports():
    tree = ast.parse("def f():\n    from .potentials.exact import c_transform\n")
    assert "w1flow.potentials.exact" in _imported_modules(tree, "w1flow")


def test_simulate_is_a_short_loop_without_closures_or_cells():
    tree = _tree("simulate.py")
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "simulate")
    code = fn.body[1:]  # after the docstring
    assert isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant)
    n_lines = fn.end_lineno - code[0].lineno + 1
    assert n_lines < 120, n_lines
    nested = [n for n in ast.walk(fn) if n is not fn and isinstance(n, (ast.FunctionDef, ast.Lambda,
                                                                        ast.AsyncFunctionDef, ast.ClassDef))]
    assert not nested, [getattr(n, "name", "lambda") for n in nested]
    # no one-element lists used as mutable cells: ``cell = [v]`` ... ``cell[0] = ...``
    cells = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.value, ast.List)
             and len(n.value.elts) == 1 for t in n.targets if isinstance(t, ast.Name)}
    assert not cells, cells


def _calls(relpath, name):
    """Calls to ``name`` (a function or attribute, e.g. ``emd``) in one module."""
    found = 0
    for node in ast.walk(_tree(relpath)):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == name) or (isinstance(f, ast.Name) and f.id == name):
                found += 1
    return found


def _modules():
    """The library's modules. The paper checks are left out: by design they recompute W1 with
    their own independent LP (cdist + ot.emd), so that they never test the code with itself."""
    return sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if p.parent.name != "paper_checks")


@pytest.mark.parametrize("call, home", [
    ("emd", "_lp.py"),  # the W1 and W2 LPs (POT's network simplex) are solved in one module
    ("row_chunks", None),  # chunking is one function ...
])
def test_one_home_for_the_lp_and_for_row_chunking(call, home):
    users = {m: _calls(m, call) for m in _modules()}
    users = {m: k for m, k in users.items() if k}
    if home is not None:
        assert set(users) == {home}, users
    src = {m: (PKG / m).read_text() for m in _modules()}
    # ... defined once, and no module computes chunk sizes itself
    assert [m for m, s in src.items() if "def row_chunks" in s] == ["_lp.py"]
    assert [m for m, s in src.items() if "// (8 *" in s] == ["_lp.py"]


def test_one_definition_of_the_shared_helpers():
    defs = {}
    for m in _modules():
        for node in ast.walk(_tree(m)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs.setdefault(node.name, []).append(m)
    for name, home in [("as_bool", "_validation.py"), ("as_int", "_validation.py"), ("as_float", "_validation.py"),
                       ("validate_measures", "_validation.py"), ("LPError", "_lp.py"), ("solve_w2_lp", "_lp.py"),
                       ("capped_w1", "closed_forms.py"), ("capped_w1_closed_form", "closed_forms.py"),
                       ("plot_convergence", "plotting.py"), ("unit_directions", "_lp.py")]:
        assert defs.get(name) == [home], (name, defs.get(name))
    # nobody else checks for booleans by hand
    src = {m: (PKG / m).read_text() for m in _modules()}
    assert [m for m, s in src.items() if "np.bool_" in s] == ["_validation.py"]
    # nor computes the capped closed form Σ G (|x − y| − t)^+ itself
    assert [m for m, s in src.items() if "np.maximum(" in s and "- tt" in s] == ["closed_forms.py"]


def _public_solvers():
    out, todo = [], [solvers.Solver]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__ == "w1flow.solvers" and not sub.__name__.startswith("_"):
                out.append(sub)
    return sorted(out, key=lambda c: c.__name__)


def test_every_solver_documents_its_contract_methods():
    assert {c.__name__ for c in _public_solvers()} >= {"Euler", "CappedEuler", "Heun", "RK4"}
    for cls in [solvers.Solver, *_public_solvers()]:
        for meth in ("init", "step", "w1"):
            fn = getattr(cls, meth)
            doc = inspect.getdoc(fn)
            assert doc and len(doc) > 40, (cls.__name__, meth)
    base = inspect.getdoc(solvers.Solver.step)
    assert "Parameters" in base and "Returns" in base and "never mutates" in base


def test_monitors_ask_the_solver_not_its_class():
    src = (PKG / "monitors.py").read_text()
    assert "isinstance(solver" not in src and "CappedEuler" not in src.split('"""', 2)[2]
