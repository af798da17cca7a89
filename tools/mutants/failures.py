"""Hand mutants of the failures that must not be success (area: failures).

Each: (name, path, old, new, tests). Run: python tools/hand_mutants.py failures
"""

_SDE_SHAPE = "tests/test_sde.py::test_a_per_particle_diffusion_vector_is_refused_not_transposed"
_SDE_GENERAL = ("tests/test_sde.py::test_general_noise_with_a_diagonal_matrix_is_diagonal_noise "
                "tests/test_sde.py::test_a_per_particle_diffusion_vector_is_refused_not_transposed")
_SIM = ("tests/test_driver.py::test_divergence_rule_per_step_growth_and_bound "
        "tests/test_sde.py::test_explicit_euler_maruyama_past_its_stability_limit_is_diverged_not_success")
_GEN = "tests/test_generative.py"
_GEN_RULE = (f"{_GEN}::test_exploding_training_stops_as_diverged {_GEN}::test_an_impossible_critic_dual_stops_as_diverged "
             f"{_GEN}::test_divergence_rule_thresholds {_GEN}::test_divergence_rule_does_not_fire_on_a_generator_far_from_tiny_data")
_BROWN = ("tests/test_sde.py::test_long_physical_time_stays_within_cache_bytes_and_is_reproducible "
          "tests/test_sde.py::test_coarse_increments_are_sums_of_fine_ones_and_queries_do_not_depend_on_order")
_ENT = ("tests/test_entropic.py::test_entropic_particles_on_the_data_converge "
        "tests/test_entropic.py::test_entropic_newton_step_converges_from_a_cold_start")

MUTANTS = [
    # -- sde.py: the diffusion's shape rule -------------------------------------------------------
    ("sde-rank-accepts-1d", "w1flow/problems/sde.py", "if s.ndim == 0 or s.ndim == ndim:", "if s.ndim == 0 or s.ndim >= 1:",
     _SDE_SHAPE),
    ("sde-no-rank-check-diffusion", "w1flow/problems/sde.py", '        _check_rank(s, len(shape), "diffusion", self.noise)\n',
     "", _SDE_SHAPE),
    ("sde-no-rank-check-dx", "w1flow/problems/sde.py", '        _check_rank(s, 2, "diffusion_dx", self.noise)\n', "", _SDE_SHAPE),
    ("sde-rank-2-for-general", "w1flow/problems/sde.py", '_check_rank(s, len(shape), "diffusion", self.noise)',
     '_check_rank(s, 2, "diffusion", self.noise)', _SDE_GENERAL),
    ("sde-fix-message", "w1flow/problems/sde.py", 'fix = "return shape (n, 1) for one value per particle',
     'fix = "return shape (n,) for one value per particle', _SDE_SHAPE),
    # -- simulate.py: the run's divergence rule ---------------------------------------------------
    ("sim-bound-1e9", "w1flow/simulate.py", "_GROWTH_BOUND = 1e8", "_GROWTH_BOUND = 1e9", _SIM),
    ("sim-run-4", "w1flow/simulate.py", "_STEP_RUN = 3", "_STEP_RUN = 4", _SIM),
    ("sim-growth-strict", "w1flow/simulate.py", "m >= _STEP_GROWTH * last", "m > _STEP_GROWTH * last", _SIM),
    ("sim-floor-1e4", "w1flow/simulate.py", "_STEP_FLOOR = 1e2", "_STEP_FLOOR = 1e4", _SIM),
    ("sim-no-check", "w1flow/simulate.py", "            if isinstance(growth, str):\n",
     "            if False:\n", _SIM),
    # -- generative/trainer.py: train's divergence rule --------------------------------------------
    ("train-output-factor", "w1flow/generative/evaluation.py", "_OUTPUT_FACTOR = 1e3", "_OUTPUT_FACTOR = 1e4", _GEN_RULE),
    ("train-param-factor", "w1flow/generative/evaluation.py", "_PARAM_FACTOR = 1e6", "_PARAM_FACTOR = 1e7", _GEN_RULE),
    ("train-no-adam-check", "w1flow/generative/evaluation.py", "    if not np.all(np.isfinite(adam_v)):",
     "    if False:", _GEN_RULE),
    ("train-signed-dual", "w1flow/generative/evaluation.py", "if abs(dual) > _DUAL_FACTOR * bound:",
     "if dual > _DUAL_FACTOR * bound:", _GEN_RULE),
    ("train-bound-no-sqrt-d", "w1flow/generative/evaluation.py", "bound = np.sqrt(xd.shape[1]) * (",
     "bound = 1.0 * (", _GEN_RULE),
    ("train-scale-data-only", "w1flow/generative/evaluation.py",
     "return (centre, data_radius + radius(first_out, centre), max(norm(theta), 1.0))",
     "return (centre, data_radius, max(norm(theta), 1.0))", _GEN_RULE),
    ("train-rule-ignored", "w1flow/generative/trainer.py", "    if why is not None:\n",
     "    if False:\n", _GEN_RULE),
    # -- brownian.py: the budget --------------------------------------------------------------------
    ("brown-room-ignores-anchors", "w1flow/brownian.py",
     "room = self.cache_bytes - len(self._anchors) * self._nbytes", "room = self.cache_bytes", _BROWN),
    ("brown-walk-stops-at-1", "w1flow/brownian.py", "        while j > 0:\n", "        while j > 1:\n", _BROWN),
    ("brown-no-anchors", "w1flow/brownian.py", "self._max_anchors = self.cache_bytes // 2 // self._nbytes",
     "self._max_anchors = 0", _BROWN),
    # -- potentials/entropic.py: Newton when Anderson stalls ---------------------------------------
    ("ent-never-stalls", "w1flow/potentials/entropic.py", "_STALL = 200", "_STALL = 10**9", _ENT),
    ("ent-no-newton", "w1flow/potentials/entropic.py", "_NEWTON_MAX_M = 2000", "_NEWTON_MAX_M = 0", _ENT),
    ("ent-newton-jacobian-unscaled", "w1flow/potentials/entropic.py",
     "H = np.diag(c) - (P / np.exp(la)[:, None]).T @ P", "H = np.diag(c) - P.T @ P", _ENT),
    ("ent-newton-no-line-search", "w1flow/potentials/entropic.py", "                if err2 < err:\n",
     "                if True:\n", _ENT),
    # Dropped: removing ``H += mean(diag H)·1 1ᵀ`` (the null-space fix of Newton's matrix) survived:
    # H is singular only up to round-off, so LU still returns a usable step on the test problem
    # (the constant component it adds is removed by g − max g). The term guards an exactly
    # singular H (LinAlgError, or a huge constant swamping the step's precision), which no small
    # deterministic test reproduces.
]
