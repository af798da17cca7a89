"""Every example script runs (small sizes) and writes its figure."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MUTATION_RUN

# the examples run in subprocesses from the checkout: mutmut neither copies them nor sees their calls
# each example is a whole run in its own interpreter (3-15 s): the slow tier
pytestmark = [pytest.mark.skipif(MUTATION_RUN, reason="examples/ is not in mutmut's copy of the project"),
              pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "exact_flow.py": ["exact_flow.png", "exact_flow_w1.png"],
    "chattering.py": ["chattering.png"],
    "w1_vs_w2.py": ["w1_vs_w2.png"],
    "quantile_1d.py": ["quantile_1d.png"],
    "critic_flow.py": ["critic_flow.png"],
    "kuramoto.py": ["kuramoto.png"],
    "cucker_smale.py": ["cucker_smale.png"],
    "propagation_of_chaos.py": ["propagation_of_chaos.png"],
    "mean_field_orders.py": ["mean_field_orders.png"],
    "beyond_w1.py": ["beyond_w1.png"],
    "monoflow_1d.py": ["monoflow_1d.png"],
    "digits_w1fe.py": ["digits_w1fe.png"],
    "k_sweep.py": ["k_sweep.png"],
}
NEEDS = {"digits_w1fe.py": "sklearn"}  # examples that need an extra skip cleanly without it


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_and_writes_its_figure(script, tmp_path):
    if script in NEEDS:
        pytest.importorskip(NEEDS[script])
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--n", "40", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in EXAMPLES[script]:
        assert (tmp_path / name).stat().st_size > 10_000, name

