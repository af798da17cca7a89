"""Parameter sweeps (``w1flow sweep``): see :mod:`w1flow.sweep.store` (being split)."""

from .store import *  # noqa: F401,F403
from .store import __all__  # noqa: F401
from .store import _pool_initializer, _read_done, run_cell  # noqa: F401
