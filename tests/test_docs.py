"""What the docs build (``docs/``, Sphinx with warnings as errors) needs from the rest of the repo.

Checked here, without Sphinx, so a missing piece fails fast with a clear message.
"""

import ast
from pathlib import Path

import pytest

from w1flow.status import STATUSES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_every_example_docstring_starts_with_an_rst_title(script):
    # sphinx-gallery makes the page title of an example from this
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=False) or ""
    lines = doc.splitlines()
    assert len(lines) >= 3, f"{script.name}: no docstring with a title"
    title, underline, blank = lines[0], lines[1], lines[2]
    assert title.strip() and set(underline) == {"="} and len(underline) >= len(title) and not blank.strip(), (
        f"{script.name}: the docstring must start with 'Title' / '=====' (as long as the title) / a "
        "blank line, for the examples gallery")


def test_the_user_guide_says_what_to_do_about_every_status():
    guide = (ROOT / "docs" / "user_guide.md").read_text(encoding="utf-8")
    missing = [word for word in STATUSES if f"(status-{word})=" not in guide]
    assert not missing, f"docs/user_guide.md has no section (status-<word>)= for {missing}"


def test_gallery_examples_run_without_dunder_file():
    """sphinx-gallery executes an example's code with no ``__file__`` (the docs build then fails):
    an example the gallery runs reads ``__file__`` only inside a ``try`` that catches NameError or
    ImportError."""
    import ast
    import re

    conf = (ROOT / "docs" / "conf.py").read_text()
    pattern = re.compile(re.search(r'"filename_pattern":\s*r"([^"]+)"', conf).group(1))
    bad = []
    for path in sorted((ROOT / "examples").glob("*.py")):
        if not pattern.search("/" + path.name):
            continue
        tree = ast.parse(path.read_text())
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("NameError", "ImportError") for h in node.handlers):
                for sub in node.body + [s for h in node.handlers for s in h.body]:
                    guarded.update(id(n) for n in ast.walk(sub))
        bad += [f"{path.name}:{n.lineno}" for n in ast.walk(tree)
                if isinstance(n, ast.Name) and n.id == "__file__" and id(n) not in guarded]
    assert not bad, f"__file__ read outside a guarded try (the gallery has none): {bad}"
