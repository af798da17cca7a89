"""The seams of the package, checked on its source: what imports what, where each concept lives."""

import ast
import importlib
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
    ("emd", {"lp/dense.py", "lp/w2.py"}),  # the W1 and W2 LPs (POT's network simplex) are solved in w1flow.lp
    ("row_chunks", None),  # chunking is one function ...
])
def test_one_home_for_the_lp_and_for_row_chunking(call, home):
    users = {m: _calls(m, call) for m in _modules()}
    users = {m: k for m, k in users.items() if k}
    if home is not None:
        assert set(users) == home, users
    src = {m: (PKG / m).read_text() for m in _modules()}
    # ... defined once, and no module computes chunk sizes itself
    assert [m for m, s in src.items() if "def row_chunks" in s] == ["lp/budget.py"]
    assert [m for m, s in src.items() if "// (8 *" in s] == ["lp/budget.py"]


def test_one_definition_of_the_shared_helpers():
    defs = {}
    for m in _modules():
        for node in ast.walk(_tree(m)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs.setdefault(node.name, []).append(m)
    for name, home in [("as_bool", "_validation.py"), ("as_int", "_validation.py"), ("as_float", "_validation.py"),
                       ("validate_measures", "_validation.py"), ("LPError", "lp/result.py"), ("solve_w2_lp", "lp/w2.py"),
                       ("capped_w1", "closed_forms.py"), ("capped_w1_closed_form", "closed_forms.py"),
                       ("plot_convergence", "plotting.py"), ("unit_directions", "lp/costs.py")]:
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


# -- nothing under w1flow/ names a file outside the repository or an issue letter -----------------
# The papers are cited by arXiv number and section; our issue tracker and our notes are not
# something a user can open. File names are looked for anywhere in a file; issue letters ("[K]",
# "([G2])", "issue E", "issues B and B2") only in comments and strings, and not after a name or a
# bracket, so indexing ("sizes[L]", "E[Y]", "x[0]", "[pts, [L]]" in code) is not one.
_OUTSIDE_FILES = ("shared/", "w1fe-paper.md", "related-flows.md")
_ISSUE_TAG = r"(?<![\w\]\)\.'\"])\[[A-Z][0-9]?\]|\b[Ii]ssues? [A-Z][0-9]?\b"


def _issue_tags(source):
    import io
    import re
    import tokenize

    kinds = {tokenize.COMMENT, tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    return [(tok.start[0], m.group()) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type in kinds for m in re.finditer(_ISSUE_TAG, tok.string)]


def test_the_issue_tag_scan_finds_tags_and_not_indexing():
    found = _issue_tags('"""See [K] and issue E."""\n# the LPs of ([G2])\nx = f"{a} [A]"\nd = "(issues B and B2)"\n')
    assert [tag for _, tag in found] == ["[K]", "issue E", "[G2]", "[A]", "issues B"]
    assert not _issue_tags('"""E[Y] = Σ a_i Y_i; sizes[L]; x[0]; shape [N, d]; P[A]."""\n'
                           "cuts = np.concatenate([pts, [L]])  # the last cut sizes[L]\ny = E[Y]\n")


def test_nothing_under_w1flow_names_a_file_outside_the_repo_or_an_issue_letter():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PKG.parent).as_posix()
        bad += [f"{rel}: names {name}" for name in _OUTSIDE_FILES if name in text]
        bad += [f"{rel}:{line}: {tag}" for line, tag in _issue_tags(text)]
    assert not bad, "\n".join(bad)

# -- the exact LP has one home: w1flow/lp/ ---------------------------------------------------------
def _solver_like(name):
    return name.startswith("solve") or name == "warm_solve"


def _own_returns(fn):
    """The ``return`` statements of ``fn`` itself (not of functions nested in it)."""
    out, todo = [], list(fn.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def test_no_lp_solver_returns_a_tuple():
    """Every LP solver (``solve*``, ``warm_solve``) returns a typed result, never a bare tuple."""
    solvers_seen, tuples = [], []
    for m in _modules():
        for node in ast.walk(_tree(m)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _solver_like(node.name):
                solvers_seen.append((m, node.name))
                tuples += [(m, node.name, r.lineno) for r in _own_returns(node) if isinstance(r.value, ast.Tuple)]
    names = {n for _, n in solvers_seen}
    assert {"solve", "solve_w1_lp", "solve_w2_lp", "solve_sparse", "warm_solve"} <= names, names
    assert not tuples, tuples


def test_the_network_simplex_is_reached_only_through_w1flow_lp():
    """``solve_sparse`` and ``warm_solve`` are named (imported, called, patched) only inside w1flow/lp/:
    everything else asks :func:`w1flow.lp.solve`."""
    outside = []
    for m in _modules():
        if m.startswith("lp/"):
            continue
        for node in ast.walk(_tree(m)):
            names = []
            if isinstance(node, ast.Name):
                names = [node.id]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name.split(".")[-1] for a in node.names] + ([node.module] if getattr(node, "module", None) else [])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            outside += [(m, n) for n in names if n in ("solve_sparse", "warm_solve")]
    assert not outside, outside
    assert not (PKG / "_lp.py").exists() and not (PKG / "_netsimplex.py").exists()


def test_the_w2_projection_and_value_are_written_once():
    """The barycentric projection ``Σ_j G_ij y_j / a_i`` is one function (w1flow/lp/w2.py), and no other
    module divides a matrix product (``G @ y / a``); the W2 value ``sqrt(Σ G ∘ cost_matrix)`` is
    computed in one place too."""
    defs = [(m, n.name) for m in _modules() for n in ast.walk(_tree(m))
            if isinstance(n, ast.FunctionDef) and n.name == "barycentric_projection"]
    assert defs == [("lp/w2.py", "barycentric_projection")], defs
    divided = [(m, n.lineno) for m in _modules() for n in ast.walk(_tree(m))
               if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
               and isinstance(n.left, ast.BinOp) and isinstance(n.left.op, ast.MatMult)]
    assert [m for m, _ in divided] == ["lp/w2.py"], divided

    def is_cost_matrix(node):
        return ((isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                 and node.slice.value == "cost_matrix") or (isinstance(node, ast.Attribute) and node.attr == "cost_matrix"))

    weighted = sorted({m for m in _modules() for n in ast.walk(_tree(m)) if isinstance(n, ast.BinOp)
                       and isinstance(n.op, ast.Mult) and (is_cost_matrix(n.left) or is_cost_matrix(n.right))})
    assert weighted == ["lp/w2.py"], weighted
    src = {m: (PKG / m).read_text() for m in _modules()}
    assert [m for m, s in src.items() if "sqrt(max(" in s] == ["lp/w2.py"]


def test_one_place_decides_dense_or_sparse():
    """The memory budget's dense/sparse rule (``dense_bytes(..., LP_DENSE_MATRICES) > max_memory``) is
    written once (w1flow/lp/budget.py), and ``ExactPotential`` and ``metrics.w1`` map ``sparse=`` onto
    :func:`w1flow.lp.solve`'s ``method=``."""
    src = {m: (PKG / m).read_text() for m in _modules()}
    assert [m for m, s in src.items() if "LP_DENSE_MATRICES) >" in s] == ["lp/budget.py"]
    for m in ("potentials/exact.py", "metrics.py"):
        assert "method_for(" in src[m] and "dense_bytes" not in src[m], m

# -- problem and solver families, the registry (issue 32, item 4) ----------------------------------
def _class_files():
    """``{class name: [files defining it]}`` over w1flow's source (``__module__`` names a class's
    public module, e.g. ``w1flow.sde``, not the file that defines it)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, []).append(path)
    return out


def _w1flow_subclasses(base):
    """Every subclass of ``base`` defined in w1flow (its module is one of w1flow's; tests' left out)."""
    out, todo = [], [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] == "w1flow":
                out.append(sub)
    return sorted(set(out), key=lambda c: c.__qualname__)


@pytest.mark.parametrize("base, home, table", [
    ("Problem", "problems", "PROBLEMS"),
    ("Solver", "solvers", "SOLVERS"),
])
def test_every_problem_and_solver_lives_in_its_package_is_exported_and_registered(base, home, table):
    from w1flow import registry

    base = getattr(w1flow, base)
    subs = _w1flow_subclasses(base)
    assert len(subs) >= 7, subs
    registered = set(getattr(registry, table).values())
    package = importlib.import_module(f"w1flow.{home}")
    files = _class_files()
    for cls in subs:
        src = files.get(cls.__name__, [])
        assert len(src) == 1 and src[0].parent == PKG / home, \
            f"{cls.__qualname__} is defined in {[str(p.relative_to(PKG)) for p in src]}, not once in {home}/"
        if cls.__name__.startswith("_"):
            continue
        assert getattr(w1flow, cls.__name__, None) is cls and cls.__name__ in w1flow.__all__, \
            f"{cls.__name__} is not exported from w1flow"
        assert getattr(package, cls.__name__, None) is cls and cls.__name__ in package.__all__, \
            f"{cls.__name__} is not exported from w1flow.{home}"
        assert cls in registered, f"{cls.__name__} is not named in w1flow.registry.{table}"
    assert registered <= set(subs)


def test_the_registry_names_only_top_level_exports():
    from w1flow import registry

    for table in registry.TABLES.values():
        for name, cls in table.items():
            assert getattr(w1flow, cls.__name__) is cls and cls.__name__ in w1flow.__all__, (name, cls)
    assert all(name == cls.name for name, cls in registry.SOLVERS.items())


def test_the_api_docs_list_every_registered_name():
    from w1flow import registry

    page = (PKG.parent / "docs" / "api" / "w1flow.registry.rst").read_text()
    tables = dict(registry.TABLES, **{t: registry.table(t) for t in registry.LAZY_TABLES})
    for kind, table in tables.items():
        for name, cls in table.items():
            assert f"``{name}``" in page and cls.__name__ in page, (kind, name)


def test_generator_methods_are_registered_lazily_and_read_by_generator_configs():
    from w1flow import registry
    from w1flow.generative import METHODS

    assert registry.GENERATOR_METHODS is METHODS and registry.table("GENERATOR_METHODS") is METHODS
    # lazy: neither the registry nor the top level imports w1flow.generative (import w1flow stays light)
    for rel in ("registry.py", "__init__.py"):
        assert not any("generative" in m for m in _imported_modules(_tree(rel), "w1flow")), rel
    src = (PKG / "generative" / "config.py").read_text()
    assert 'table("GENERATOR_METHODS")' in src and "from .methods import METHODS" not in src


def test_solver_capabilities_and_options_are_declared_once():
    for cls in _w1flow_subclasses(w1flow.Solver):
        if cls.__name__.startswith("_"):
            continue
        assert "options" not in vars(cls), f"{cls.__name__} writes its options by hand; declare option_names"
        solver = cls()
        params = [p for p in inspect.signature(cls).parameters if p != "split" or solver.supports_split]
        assert list(solver.option_names) == params, cls
        caps = solver.capabilities
        assert caps.order == cls.order and caps.stochastic == cls.stochastic and caps.second_order == cls.second_order


def _package_of(module, is_package):
    return module if is_package else module.rpartition(".")[0]


def _private_imports_across_packages():
    """``(file, imported name)`` of every ``from X import _name`` where ``_name`` (a private function,
    class or module) belongs to another package of w1flow than the importing file."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("").parts
        here = ".".join(rel[:-1])
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "w1flow":
                continue
            target_path = PKG.parent.joinpath(*target.split("."))
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                sub = target_path / name
                if sub.is_dir() or sub.with_suffix(".py").exists():  # a private module of package `target`
                    owner = target
                else:
                    owner = _package_of(target, target_path.is_dir())
                if owner != here:
                    found.append((str(path.relative_to(PKG)), f"{target}.{name}"))
    return found


#: Known exceptions, each to be removed by its owner (reported, not endorsed).
_PRIVATE_IMPORT_EXCEPTIONS = set()


def test_no_module_imports_another_packages_private_names():
    found = set(_private_imports_across_packages())
    assert found <= _PRIVATE_IMPORT_EXCEPTIONS, sorted(found - _PRIVATE_IMPORT_EXCEPTIONS)


def test_the_private_import_checker_sees_a_violation(tmp_path, monkeypatch):
    fake = tmp_path / "w1flow"
    (fake / "problems").mkdir(parents=True)
    (fake / "_helpers.py").write_text("def _secret():\n    pass\n")
    (fake / "problems" / "x.py").write_text("from .._helpers import _secret\nfrom . import _mine\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    assert _private_imports_across_packages() == [("problems/x.py", "w1flow._helpers._secret")]


def test_simulate_asks_the_solver_its_capabilities_not_its_class():
    tree = _tree("simulate.py")
    concrete = {c.__name__ for c in _w1flow_subclasses(w1flow.Solver)}
    checks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance",
                                                                                              "issubclass"):
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            checks += sorted(names & concrete)
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) and \
                getattr(node.left.func, "id", None) == "type":  # type(solver) is Euler
            checks += sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & concrete)
    assert not checks, checks
    # the only concrete solver simulate names is its default, Euler()
    named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & concrete
    assert named <= {"Euler"}, named
    src = (PKG / "simulate.py").read_text()
    assert "solver.check_problem(problem)" in src and ".stochastic" not in src and "second_order" not in src


# -- generator training: train shaped like simulate ([L2]) ---------------------------------------
GEN = PKG / "generative"


def _functions(path):
    """``(name, node)`` of every function defined in a module (methods and nested ones too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(n.name, n) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _function(path, name):
    return next(n for f, n in _functions(path) if f == name)


def _n_params(fn):
    a = fn.args
    return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


def _length(fn):
    """Lines from the ``def`` to the end, docstring included."""
    return fn.end_lineno - fn.lineno + 1


def test_train_is_short_with_at_most_ten_parameters():
    fn = _function(GEN / "trainer.py", "train")
    assert _length(fn) < 80, _length(fn)
    assert _n_params(fn) <= 10, _n_params(fn)
    assert [a.arg for a in fn.args.args + fn.args.kwonlyargs] == [
        "generator", "data", "potential", "method", "n_iter", "batches", "optimizer", "evaluation", "checkpoint",
        "backend"]


def test_wgan_gp_reference_is_short():
    fn = _function(GEN / "torch_reference.py", "wgan_gp_reference")
    assert _length(fn) < 100, _length(fn)


def test_no_function_in_generative_is_over_100_lines_or_takes_kwargs():
    long, kwargs = [], []
    for path in sorted(GEN.glob("*.py")):
        for name, fn in _functions(path):
            if _length(fn) > 100:
                long.append((path.name, name, _length(fn)))
            if fn.args.kwarg is not None:
                kwargs.append((path.name, name, fn.args.kwarg.arg))
    assert not long, long
    # method_from_name(name, **fields) builds a dataclass by its field names: not a pass-through.
    assert kwargs == [("methods.py", "method_from_name", "fields")], kwargs


def _private_imports(path, package):
    """``(module, name)`` of each ``_``-prefixed name imported from another module (a private
    submodule imported as a module, ``from . import _kernels``, is not a name of another module)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                if not alias.name.startswith("_"):
                    continue
                rel = Path(*base.split(".")[1:], alias.name)
                if (PKG / rel).with_suffix(".py").exists() or (PKG / rel / "__init__.py").exists():
                    continue  # a module, imported whole
                out.append((base, alias.name))
    return out


def test_the_checker_of_private_imports_sees_them():
    p = Path(__file__).parent / "_private_import_probe.py"
    p.write_text("from .trainer import _State\nfrom . import _kernels\nfrom ..x import public\n")
    try:
        assert _private_imports(p, "w1flow.generative") == [("w1flow.generative.trainer", "_State")]
    finally:
        p.unlink()


def test_generative_imports_no_private_names_of_other_modules():
    found = {path.name: _private_imports(path, "w1flow.generative") for path in sorted(GEN.glob("*.py"))}
    assert not {k: v for k, v in found.items() if v}, found


def test_one_noise_floor_and_one_evaluation_module():
    """The noise floor is defined once (the paper checks keep their own, independent LP under another
    name); train and wgan_gp_reference take the held-out W1, latents and schedule from one module."""
    defs = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "def noise_floor(" in p.read_text()]
    assert defs == ["generative/evaluation.py"], defs
    for name in ("trainer.py", "torch_reference.py"):
        mods = _imported_modules(_tree(f"generative/{name}"), "w1flow.generative")
        assert "w1flow.generative.evaluation" in mods, name
        src = (GEN / name).read_text()
        assert "def held_out_w1" not in src and "def evaluate_after" not in src and "default_rng([seed, 1])" not in src


# -- one experiment runner ---------------------------------------------------------------------
_POOLS = {"ProcessPoolExecutor", "Pool"}


def _pool_sites(path):
    """``(line, name)`` of every process pool a file starts: ``ProcessPoolExecutor(...)``,
    ``multiprocessing.Pool(...)``, ``get_context(...).Pool(...)``, ``from multiprocessing import Pool``."""
    out = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in _POOLS:
                out.append((node.lineno, name))
    return out


def test_the_pool_checker_sees_every_spelling():
    code = ("import multiprocessing as mp\nfrom concurrent.futures import ProcessPoolExecutor\n"
            "a = ProcessPoolExecutor(2)\nb = mp.Pool(2)\nc = mp.get_context('spawn').Pool(2)\n")
    p = Path(__file__).parent / "_pool_probe.py"
    p.write_text(code)
    try:
        assert [n for _, n in _pool_sites(p)] == ["ProcessPoolExecutor", "Pool", "Pool"]
    finally:
        p.unlink()


def test_one_process_pool_site_in_the_package():
    """Every experiment (flow sweeps, generator sweeps, the K study, the digits grid) runs through
    the sweep runner's executor: the package starts a process pool in one place."""
    sites = {str(p.relative_to(PKG)): _pool_sites(p) for p in sorted(PKG.rglob("*.py"))}
    sites = {k: v for k, v in sites.items() if v}
    assert list(sites) == [str(Path("sweep") / "executor.py")] and len(sites[str(Path("sweep") / "executor.py")]) == 1, \
        sites
    root = PKG.parent
    for script in ("benchmarks/digits_torch.py", "examples/w1fe_sweep.py", "examples/k_sweep.py"):
        if (root / script).exists():  # a source checkout
            assert _pool_sites(root / script) == [], script


def test_the_k_study_module_holds_no_runner_pool_or_store():
    """generative/experiments.py keeps the targets and the figures; the runs go through w1flow.sweep."""
    path = GEN / "experiments.py"
    if not path.exists():
        return
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0] if not node.level else (node.module or ""))
    assert not imported & {"multiprocessing", "concurrent", "sweep", "json", "threading"}, imported
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert not names & {"run_jobs", "run_cell", "load_cells", "sweep", "job", "noise_floor"}, names
    assert _pool_sites(path) == []
    assert "cells.jsonl" not in path.read_text()
