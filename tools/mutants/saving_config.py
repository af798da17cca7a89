"""Hand mutants of ``SaveAt`` and the step grid (``w1flow/saving.py``) and of the run configs
(``w1flow/config.py``): argument validation, snapping, what is saved, and the config keys that
must reach ``simulate``. Killed by ``tests/test_listed_mutants_s.py``."""

T = "tests/test_listed_mutants_s.py"
S, C = "w1flow/saving.py", "w1flow/config.py"

MUTANTS = [
    ("SaveAt takes every= and ts= together", S,
     "        if self.ts is not None and self.every is not None:\n", "        if False:\n",
     f"{T}::test_saveat_rejects_bad_arguments"),
    ("SaveAt accepts negative times", S, "np.any(ts < 0)", "np.any(ts < -1)",
     f"{T}::test_saveat_rejects_bad_arguments"),
    ("SaveAt accepts non-finite times", S, "not np.all(np.isfinite(ts)) or ", "",
     f"{T}::test_saveat_rejects_bad_arguments"),
    ("SaveAt accepts any w1 method", S, "        if self.w1 not in _W1_METHODS:\n", "        if False:\n",
     f"{T}::test_saveat_rejects_bad_arguments"),
    ("save times past t1 within 1e-3 accepted", S, "if p > t1 * (1 + 1e-15):", "if p > t1 * (1 + 1e-3):",
     f"{T}::test_save_time_after_t1_is_refused"),
    ("save time snapped to the grid point below", S, "j = min(int(round(p / dt)), self.n_regular)",
     "j = min(int(p / dt), self.n_regular)",
     f"{T}::test_save_time_within_round_off_of_a_grid_point_takes_no_extra_step"),
    ("default every is 2", S, "(self.every or 1)", "(self.every or 2)",
     f"{T}::test_every_saves_each_kth_step_and_the_last_state"),
    ("final state not saved off the every-grid", S, "save = last or (", "save = (",
     f"{T}::test_every_saves_each_kth_step_and_the_last_state"),
    ("w1=None still records a W1 history", S,
     "self.record = method is not None and self.target is not None", "self.record = self.target is not None",
     f"{T}::test_w1_none_records_no_history"),
    ("config [run] w1 = 'lp' becomes 'auto'", C, 'w1=None if w1 == "none" else w1)',
     'w1=None if w1 == "none" else "auto")', f"{T}::test_config_save_every_and_w1_reach_saveat"),
    ("config [run] save_every ignored", C, 'SaveAt(every=run.get("save_every", 1),', "SaveAt(every=1,",
     f"{T}::test_config_save_every_and_w1_reach_saveat"),
    ("config [run] w1 not validated", C, '    if run.get("w1", "auto") not in ("auto", "lp", "none"):\n',
     "    if False:\n", f"{T}::test_config_rejects_bad_run_keys"),
    ("config [run] dt not required", C, '    for key in ("t1", "dt"):\n', '    for key in ("t1",):\n',
     f"{T}::test_config_needs_t1_and_dt"),
]
