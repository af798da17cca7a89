"""Hand mutation run: every mutant in ``tools/mutants/*.py`` is applied to a copy of the
checkout and its own tests are run; a mutant is KILLED when those tests fail (or time out).

    python tools/hand_mutants.py                 # all of them, two at a time
    python tools/hand_mutants.py checkpoint sde  # only the mutants of those files in tools/mutants/
    python tools/hand_mutants.py -k sentinel     # only mutants whose name contains "sentinel"

Each file in ``tools/mutants/`` defines ``MUTANTS``, a list of tuples
``(name, path, old, new, tests)``: ``old`` must occur exactly once in ``path`` (a stale mutant is
reported as STALE, never silently skipped), and ``tests`` is a space-separated pytest selection.
Prints one line per mutant and a summary; exits 1 if any mutant survived or is stale.
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "mutants"


def load(areas):
    out = []
    for f in sorted(HERE.glob("*.py")):
        if areas and f.stem not in areas:
            continue
        spec = importlib.util.spec_from_file_location(f"mutants_{f.stem}", f)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        # an area may set environment variables for its tests (ENV: e.g. two Numba threads)
        out += [(f.stem, *m, getattr(mod, "ENV", {})) for m in mod.MUTANTS]
    return out


def run(mutant, timeout):
    area, name, path, old, new, tests, area_env = mutant
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "p")
        # docs and benchmarks are copied: tests read them (a missing file would fail every mutant's
        # run, a false kill); only their build outputs are left out
        shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns(".git", "mutants", ".venv*", ".hypothesis",
                                                                 "_build", "auto_examples", "*.egg-info"))
        # __pycache__ is copied (with the files' times): the Numba cache of every unmutated module
        # stays valid, and the mutated file, newer than its cache, is compiled again
        f = os.path.join(dst, path)
        s = open(f).read()
        if s.count(old) != 1:
            return area, name, "STALE", f"'old' occurs {s.count(old)} times in {path}"
        open(f, "w").write(s.replace(old, new))
        env = dict(os.environ, PYTHONPATH=dst, CI="true", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   NUMBA_NUM_THREADS="1", MPLBACKEND="Agg")
        env.update(area_env)
        try:
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                "-o", "addopts=", "--timeout", str(timeout), *tests.split()],
                               cwd=dst, env=env, capture_output=True, text=True, timeout=4 * timeout)
        except subprocess.TimeoutExpired:
            return area, name, "KILLED", "(hung past the run's limit)"
        last = [ln for ln in r.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln][-1:]
        if r.returncode == 5 or (r.returncode not in (0, 1) and not last):
            return area, name, "ERROR", (r.stdout + r.stderr)[-300:]
        return area, name, "KILLED" if r.returncode != 0 else "SURVIVED", last[0] if last else ""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("areas", nargs="*", help="file stems in tools/mutants/ (default: all)")
    p.add_argument("-k", default="", help="only mutants whose name contains this")
    p.add_argument("-j", type=int, default=2, help="mutants run at once (default 2)")
    p.add_argument("--timeout", type=int, default=300, help="per-test timeout in seconds")
    args = p.parse_args(argv)
    mutants = [m for m in load(args.areas) if args.k in m[1]]
    counts = {}
    with ThreadPoolExecutor(args.j) as ex:
        for area, name, verdict, last in ex.map(lambda m: run(m, args.timeout), mutants):
            counts[verdict] = counts.get(verdict, 0) + 1
            print(f"{verdict:8s} [{area}] {name}: {last}", flush=True)
    print(f"{counts.get('KILLED', 0)}/{len(mutants)} killed; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0 if counts.get("KILLED", 0) == len(mutants) else 1


if __name__ == "__main__":
    sys.exit(main())
