"""Re-run mutmut mutants outside its scheduler: each named mutant's own test selection, run with
``MUTANT_UNDER_TEST`` in mutmut's copy of the project (``mutants/``), two at a time.

Use it for mutants mutmut reports as "suspicious" (ended by a signal, no result):

    python tools/mutmut_direct.py MUTANT_NAME [MUTANT_NAME ...]     # from the checkout mutmut ran in

Prints KILLED or SURVIVED, the number of tests and pytest's last line for each.
"""
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def main(names):
    os.chdir("mutants")
    tests_by_function = json.load(open("mutmut-stats.json"))["tests_by_mangled_function_name"]

    def run(name):
        tests = sorted(tests_by_function.get(re.sub(r"__mutmut_\d+$", "", name), []))
        env = dict(os.environ, W1FLOW_MUTATION="1", CI="true", MUTANT_UNDER_TEST=name, OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        # both tiers (-m): a named slow test deselected by addopts would exit 5 and count as a kill
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "slow or not slow",
                            *tests],
                           env=env, capture_output=True, text=True, timeout=1800)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
        return name, r.returncode, len(tests), last

    with ThreadPoolExecutor(2) as ex:
        for name, rc, n, last in ex.map(run, names):
            print("KILLED  " if rc else "SURVIVED", name, n, last, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
