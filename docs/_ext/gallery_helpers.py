"""How the examples gallery runs ``examples/*.py``: small sizes, and the figures they write.

The examples are plain scripts that take ``--n`` (particles) and ``--out`` (where to write
their figures) and save PNG files; they do not leave figures open for sphinx-gallery's
matplotlib scraper. So the gallery passes each script a small ``--n`` and a scratch ``--out``
(:func:`example_argv`), and :func:`scrape_written_figures` shows the PNG/GIF files the script
wrote there, in the order it wrote them. Every image on a gallery page is made by the build.
"""

import shutil
import tempfile
from pathlib import Path

# Particles per example in the docs build (the scripts' own defaults are larger). Chosen so the
# whole docs build stays within two minutes on two cores with a cold Numba cache, and the
# figures still show what the example is about. Scripts not listed run with their defaults.
SIZES = {
    "beyond_w1": 40,
    "chattering": 100,
    "convergence_study": 24,
    "critic_flow": 40,
    "cucker_smale": 40,
    "digits_w1fe": 40,
    "exact_flow": 200,
    "k_sweep": 40,
    "kuramoto": 100,
    "mean_field_orders": 40,
    "monoflow_1d": 150,
    "propagation_of_chaos": 1000,
    "quantile_1d": 40,
    "w1_vs_w2": 150,
}
# Scripts whose --out is a file, not a folder.
OUT_IS_FILE = {"convergence_study"}
IMAGE_SUFFIXES = (".png", ".gif")

_SCRATCH = Path(tempfile.gettempdir()) / "w1flow-docs-gallery"
_shown = set()


def output_dir(stem):
    return _SCRATCH / stem


def example_argv(gallery_conf, script_vars):
    """The command-line arguments of an example in the docs build (a fresh scratch folder)."""
    stem = Path(script_vars["src_file"]).stem
    out = output_dir(stem)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = []
    if stem in SIZES:
        argv += ["--n", str(SIZES[stem])]
    argv += ["--out", str(out / f"{stem}.png") if stem in OUT_IS_FILE else str(out)]
    return argv


def scrape_written_figures(block, block_vars, gallery_conf):
    """sphinx-gallery image scraper: the images the example wrote since the last code block."""
    from sphinx_gallery.scrapers import figure_rst

    out = output_dir(Path(block_vars["src_file"]).stem)
    if not out.is_dir():
        return ""
    new = [p for p in out.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p not in _shown]
    new.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    paths = []
    for src, dest in zip(new, block_vars["image_path_iterator"]):
        dest = Path(dest).with_suffix(src.suffix.lower())
        shutil.copyfile(src, dest)
        _shown.add(src)
        paths.append(str(dest))
    return figure_rst(paths, gallery_conf["src_dir"])
