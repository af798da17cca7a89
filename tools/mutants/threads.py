"""Hand mutants of the parallel passes' choice of threads (``w1flow.threads.ThreadChoice``,
its users in ``w1flow.lp.cells`` and ``w1flow.interactions``). Run:
``python tools/hand_mutants.py threads``."""

T = "tests/test_pass_threads.py"
TH = "w1flow/threads.py"

#: the tests of the choice need two Numba threads (the runner gives every other area one)
ENV = {"NUMBA_NUM_THREADS": "2"}

MUTANTS = [
    ("the faster way reversed", TH,
     "st.one = st.rate_all > st.rate_one", "st.one = st.rate_all < st.rate_one", T),
    ("the thread count not restored after a pass on one thread", TH,
     "    finally:\n        numba.set_num_threads(threads)\n\n\nclass ThreadChoice", "    finally:\n        pass\n\n\nclass ThreadChoice", T),
    ("probes not normalised by their work", TH,
     "rate = dt / max(rec.work, 1)", "rate = dt", T),
    ("the choice not reset when the faster way changes", TH,
     "if clear and st.one == before else self.period", "if clear else self.period", T),
    ("the interval never doubles", TH,
     "clear = max(st.rate_one, st.rate_all) > 1.5 * min(st.rate_one, st.rate_all)", "clear = False", T),
    ("one thread in force overridden", TH,
     "        if numba.get_num_threads() == 1:\n            yield rec\n            return\n", "", T),
    ("the pairwise drift bypasses its choice", "w1flow/interactions.py",
     "        with DRIFT_THREADS(pairs) as rec:  # all threads or one, whichever its timing finds faster\n"
     "            out = _loop(self.kernel)(x, w, self.params)\n            rec.work = pairs\n",
     "        out = _loop(self.kernel)(x, w, self.params)\n", T),
    ("a cell pass reports no work", "w1flow/lp/cells.py",
     "rec.work = self.x.shape[0] + self.y.shape[0] + self.nodes_visited + self.pairs_checked",
     "rec.work = 1", T),
]
