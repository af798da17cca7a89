"""Sphinx configuration of the w1flow documentation.

Build (from the repository root, after ``python -m pip install ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Offline by design: no intersphinx, no remote assets. The examples gallery runs every script in
``examples/`` at a small size (see ``docs/_ext/gallery_helpers.py``) and shows the figures the
scripts write.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
# the examples show progress bars on a terminal; on a gallery page they are noise
os.environ.setdefault("TQDM_DISABLE", "1")

import w1flow  # noqa: E402

project = "w1flow"
author = "the w1flow authors"
copyright = "the w1flow authors"
release = w1flow.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "status_table",
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json"]
templates_path = []

# MathJax (the docstrings' ``.. math::`` blocks) comes from sphinx-mathjax-offline, which ships
# MathJax 3 and copies it into the build: no CDN.

# -- autodoc / numpydoc ------------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
}
autodoc_typehints = "none"
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- MyST ----------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3
suppress_warnings = []

# -- sphinx-gallery ------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every example runs at a small size, except the hour-long sweep protocol
    "filename_pattern": r"/(?!w1fe_sweep)[^/]+\.py$",
    "reset_argv": "gallery_helpers.example_argv",
    "image_scrapers": ("gallery_helpers.scrape_written_figures",),
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "show_signature": False,
    "capture_repr": (),
    "backreferences_dir": None,
    "doc_module": (),
    "reference_url": {},
    "line_numbers": False,
    # the execution-time tables load DataTables from a CDN: not offline
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"w1flow {release}"
html_static_path = ["_static"]
html_css_files = ["w1flow.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
    "header_links_before_dropdown": 7,
    "navbar_persistent": ["search-button"],
}
# pages without children get no left sidebar (it would be an empty "Section Navigation")
html_sidebars = {page: [] for page in ("index", "getting_started", "concepts", "user_guide",
                                       "paper_checks")}
html_show_sourcelink = False
# "value()" rather than "EntropicKantorovichPotential.value()" in the page contents
toc_object_entries_show_parents = "hide"


# -- one home per object ---------------------------------------------------------------------------
# Several modules re-export names (the oracles are in ``w1flow`` and ``w1flow.potentials``, the
# closed forms in ``w1flow.closed_forms`` and ``w1flow.convergence``). Each object is documented
# once, on its home page: the top level for the names in ``w1flow.__all__`` (what docstrings
# link to), else the API page of the module it is defined in (or the nearest parent), else the
# first page that exports it. Pages are the ``automodule`` targets of docs/api/*.rst.
def _api_pages():
    pages = {}
    for rst in sorted((HERE / "api").glob("*.rst")) + sorted(AUTO_API.glob("*.rst")):
        for line in rst.read_text(encoding="utf-8").splitlines():
            if line.startswith(".. automodule:: "):
                pages[line.split("::", 1)[1].strip()] = rst.relative_to(HERE).with_suffix("").as_posix()
    return pages


# Public modules added later (w1flow.<name>, no leading underscore) that no page of docs/api/
# covers get a generated page in docs/api/auto/ (not in git) when they export a class or a
# function documented nowhere else; docs/api/index.rst lists them after its own pages.
AUTO_API = HERE / "api" / "auto"


def _write_auto_api_pages():
    import importlib
    import pkgutil

    AUTO_API.mkdir(exist_ok=True)
    static = {m: d for m, d in _api_pages().items() if not d.startswith("api/auto/")}
    documented = set()
    for modname in static:
        mod = importlib.import_module(modname)
        documented |= {id(getattr(mod, n)) for n in getattr(mod, "__all__", []) if callable(getattr(mod, n, None))}
    wanted = {}
    for info in pkgutil.iter_modules(w1flow.__path__):
        name = f"w1flow.{info.name}"
        if info.name.startswith("_") or name in static:
            continue
        mod = importlib.import_module(name)
        exports = [getattr(mod, n, None) for n in getattr(mod, "__all__", [])]
        if any(callable(o) and id(o) not in documented for o in exports):
            wanted[name] = f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
    for old in AUTO_API.glob("*.rst"):
        if old.stem not in wanted:
            old.unlink()
    for name, text in wanted.items():
        path = AUTO_API / f"{name}.rst"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return sorted(wanted)


AUTO_API_MODULES = _write_auto_api_pages()


def _add_auto_api_pages(app, docname, source):
    if docname == "api/index" and AUTO_API_MODULES:
        source[0] = source[0].rstrip("\n") + "\n" + "".join(f"   auto/{m}\n" for m in AUTO_API_MODULES)


def _homes(pages):
    import importlib

    exporters = {}  # id(obj) -> (obj, [modules exporting it, in page order])
    for modname in pages:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if callable(obj) and not isinstance(obj, type(w1flow)):  # classes and functions
                exporters.setdefault(id(obj), (obj, []))[1].append(modname)
    homes = {}
    for key, (obj, mods) in exporters.items():
        if "w1flow" in mods:
            homes[key] = "w1flow"
            continue
        defined = getattr(obj, "__module__", None) or ""
        owners = [m for m in mods if defined == m or defined.startswith(m + ".")]
        homes[key] = max(owners, key=len) if owners else mods[0]
    return homes


API_PAGES = _api_pages()
_HOMES = _homes(API_PAGES)


def _skip_if_documented_elsewhere(app, what, name, obj, skip, options):
    if what != "module" or skip:
        return None
    docname = app.env.docname
    page_module = next((m for m, d in API_PAGES.items() if d == docname), None)
    home = _HOMES.get(id(obj))
    if page_module is not None and home is not None and home != page_module:
        return True
    return None


# A module constant's signature shows its value; for a table (w1flow.status.STATUSES) that is a
# wall of text. Long values are dropped (the docstring says what the constant holds); Sphinx's
# "no-value" default option does not reach the members of an automodule.
MAX_VALUE_CHARS = 80


def _drop_long_values(app, doctree):
    from sphinx import addnodes

    for desc in doctree.findall(addnodes.desc):
        if desc.get("objtype") not in ("data", "attribute"):
            continue
        for sig in desc.findall(addnodes.desc_signature):
            for ann in list(sig.findall(addnodes.desc_annotation)):
                text = ann.astext().strip()
                if text.startswith("=") and len(text) > MAX_VALUE_CHARS:
                    ann.parent.remove(ann)


# Markdown pages added to docs/ later (design notes, measurements) join the "In depth" toctree
# by themselves, after the ones topics.md lists, rather than failing the build as orphans.
MAIN_PAGES = {"index", "getting_started", "concepts", "user_guide", "paper_checks", "topics"}


def _add_new_pages_to_topics(app, docname, source):
    if docname != "topics":
        return
    import re

    text = source[0]
    listed = set(re.findall(r"^([\w/.-]+)\s*$", text, re.MULTILINE))
    extra = sorted(p.stem for p in HERE.glob("*.md") if p.stem not in MAIN_PAGES | listed)
    if extra:
        end = text.rindex("```")
        source[0] = text[:end] + "".join(f"{name}\n" for name in extra) + text[end:]


def _reread_indexes(app, env, added, changed, removed):
    return ["topics", "api/index"]  # incremental builds too see pages added since the last one


def setup(app):
    app.connect("autodoc-skip-member", _skip_if_documented_elsewhere)
    app.connect("source-read", _add_new_pages_to_topics)
    app.connect("source-read", _add_auto_api_pages)
    app.connect("env-get-outdated", _reread_indexes)
    app.connect("doctree-read", _drop_long_values)
