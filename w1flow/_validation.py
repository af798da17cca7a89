"""Turn user input into float64 C-contiguous arrays, or raise an error that names the argument.

Every public entry point goes through these helpers, so the rules live in one place:

* lists, ints and float32 are converted to float64; non-contiguous arrays are copied;
* a 1-D array of length n is read as n points on the line (shape ``(n, 1)``), everywhere:
  for ``simulate``, the problems, the oracles and a potential's ``φ(z)``; one point in R^d is
  shape ``(1, d)``, and the dimension errors say so;
* NaN or inf raise ``ValueError``; so do empty clouds and arrays of more than two dimensions;
* weights must be finite and non-negative with a positive total. They are normalised to total
  mass 1 (a ``UserWarning`` says so when the total differs from 1 by more than 1e-9). Individual
  zero weights are allowed: such particles are passive tracers;
* options: booleans must be ``True``/``False`` (not 0/1 or strings), integers must be integers
  (not 2.0 or ``True``), floats must be finite and in their range, seeds an int >= 0, a
  ``numpy.random.Generator`` or None.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = [
    "WEIGHT_TOTAL_TOL",
    "as_points",
    "as_weights",
    "validate_measures",
    "as_bool",
    "as_bool_or_auto",
    "as_int",
    "as_float",
    "as_positive_float",
    "as_nonnegative_float",
    "as_positive_int",
    "as_seed",
    "as_rng",
    "check_same_dimension",
    "readonly",
]


#: Weights whose total differs from 1 by at most this are kept as given (see :func:`as_weights`);
#: every mass check downstream (the sparse LP's certificate) must accept what this accepts.
WEIGHT_TOTAL_TOL = 1e-12


def _to_float_array(value, name):
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}.")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}.")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_points(x, name="x", dim=None):
    """Return ``x`` as a float64 C-contiguous array of shape ``(n, d)``.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
        Point cloud. A 1-D array is read as n points in dimension 1.
    name : str
        Argument name used in error messages.
    dim : int, optional
        Required dimension d.

    Raises
    ------
    TypeError
        If ``x`` is not numeric.
    ValueError
        If ``x`` is empty, has ndim not in {1, 2}, holds NaN or inf, or has the wrong dimension.
    """
    arr = _to_float_array(x, name)
    flat = arr.ndim == 1
    if flat:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n, d) (or (n,) for points on a line); got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one point is needed.")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has dimension 0; points need d >= 1 coordinates.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); remove or replace them.")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[1]}, but dimension {dim} is required"
                         + (_FLAT_HINT.format(d=dim) if flat else "."))
    return arr


_FLAT_HINT = ("; a 1-D array is read as points on a line (as everywhere in w1flow): pass one point "
              "in R^{d} as shape (1, {d}).")


def as_weights(w, n, name="weights", normalize=True):
    """Return non-negative weights of shape ``(n,)`` with total mass 1.

    Parameters
    ----------
    w : array_like or None
        Weights; ``None`` means uniform ``1/n``.
    n : int
        Number of points the weights belong to.
    name : str
        Argument name used in error messages.
    normalize : bool
        Rescale to total mass 1 (with a warning if the total was not 1 to 1e-9).
    """
    if w is None:
        return np.full(n, 1.0 / n)
    arr = _to_float_array(w, name)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the points; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; the smallest is {arr.min():.3g}.")
    total = float(arr.sum())
    if not total > 0:
        raise ValueError(f"{name} have zero total mass; at least one weight must be positive.")
    # Weights that sum to 1 up to round-off (np.full(100, 0.01) sums to 1 + 7e-16) are kept as
    # given: rescaling them would make equal weights on both sides differ in the last bit, and the
    # LP would then split a permutation plan into round-off pieces.
    if normalize and abs(total - 1.0) > WEIGHT_TOTAL_TOL:
        if abs(total - 1.0) > 1e-9:
            warnings.warn(
                f"{name} sum to {total:.6g}; they are normalised to total mass 1.",
                UserWarning,
                stacklevel=3,
            )
        arr = arr / total
    return np.ascontiguousarray(arr)


#: The range of coordinate magnitudes the costs can be built in: distances come from direct
#: differences, squared and summed (never ``ot.dist``), and past 1e150 the squares overflow float64;
#: below 1e-140 they reach its subnormal range and the distances lose precision and then vanish
#: (measured: W1 between clouds scaled by 1e-160 came out 1.7e-4 off, by 1e-170 as 0).
COORD_RANGE = (1e-140, 1e150)


def check_coordinate_range(x, y, xname="x", yname="y"):
    """Refuse clouds whose largest coordinate magnitude is outside :data:`COORD_RANGE` (all-zero
    clouds are fine: every distance is 0 exactly)."""
    big = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    lo, hi = COORD_RANGE
    if big > hi:
        raise ValueError(f"{xname} and {yname} have coordinates up to {big:.3g} in magnitude: their squared "
                         f"differences overflow float64 past {hi:.0e}. Rescale both clouds (W1 is homogeneous: "
                         f"W1(s·{xname}, s·{yname}) = s·W1({xname}, {yname}) for s > 0).")
    if 0.0 < big < lo:
        raise ValueError(f"{xname} and {yname} have coordinates of at most {big:.3g} in magnitude: their squared "
                         f"differences underflow float64 below {lo:.0e} (distances would lose precision or "
                         f"vanish). Rescale both clouds (W1 is homogeneous: W1(s·{xname}, s·{yname}) = "
                         f"s·W1({xname}, {yname}) for s > 0).")


def validate_measures(x, a, y, b):
    """Validate an oracle's inputs: float64 points of equal dimension, magnitudes the costs can be
    built in (:data:`COORD_RANGE`) and normalised weights.

    ``a`` or ``b`` may be None (uniform). Cheap (O(n + m)) next to any potential computation, so
    every oracle calls it: direct calls such as ``ExactPotential()(x, a, y, b)`` get the same
    clear errors as :func:`~w1flow.simulate`.
    """
    x = as_points(x, "x")
    y = as_points(y, "y")
    check_same_dimension(x, y, "x", "y")
    check_coordinate_range(x, y)
    a = as_weights(a, x.shape[0], "a")
    b = as_weights(b, y.shape[0], "b")
    return x, a, y, b


def as_bool(value, name):
    """Return ``value`` as a bool; only ``True``/``False`` (and numpy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def as_bool_or_auto(value, name):
    """Return ``value`` as a bool, or the string ``"auto"``; numpy bools count as bools, 0/1 and
    other strings are refused (a truthy value must never silently mean False)."""
    if isinstance(value, str):
        if value != "auto":
            raise TypeError(f"{name} must be True, False or 'auto', got {value!r}.")
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True, False or 'auto', got {value!r}.")
    return bool(value)


def as_int(value, name, minimum=None):
    """Return ``value`` as an int (``>= minimum`` when given); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return value


def as_float(value, name, low=-np.inf, high=np.inf, low_open=False, high_open=True):
    """Return ``value`` as a finite float in the interval from ``low`` to ``high``.

    ``low_open``/``high_open`` exclude the end points; the error names the interval.
    """
    value = _as_real_scalar(value, name)
    ok = value > low if low_open else value >= low
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be finite and in {lo}{low}, {high}{hi}, got {value}.")
    return value


def as_seed(seed, name="seed"):
    """Check a seed: None, an int >= 0 or a ``numpy.random.Generator`` (returned unchanged)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, a numpy.random.Generator or None, got {seed!r}.")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}.")
    return seed


def as_rng(seed, name="seed"):
    """A ``numpy.random.Generator`` from a seed (a Generator is used as it is, not copied)."""
    seed = as_seed(seed, name)
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _as_real_scalar(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    return value


def as_positive_float(value, name):
    """Return ``value`` as a finite float > 0, or raise naming ``name``."""
    value = _as_real_scalar(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}.")
    return value


def as_nonnegative_float(value, name):
    """Return ``value`` as a finite float >= 0, or raise naming ``name``."""
    value = _as_real_scalar(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}.")
    return value


def as_positive_int(value, name):
    """Return ``value`` as an int >= 1, or raise naming ``name``."""
    return as_int(value, name, minimum=1)


def readonly(arr):
    """A read-only view of ``arr`` (no copy): what user code (drifts, callbacks) is handed.

    Writing into it raises ``ValueError: assignment destination is read-only`` instead of
    silently changing the solution.
    """
    view = arr.view()
    view.flags.writeable = False
    return view


def check_same_dimension(x, y, x_name="x0", y_name="target"):
    """Raise ``ValueError`` if the point clouds live in different dimensions."""
    if x.shape[1] != y.shape[1]:
        hint = _FLAT_HINT.format(d=y.shape[1]) if x.shape[1] == 1 else "."
        raise ValueError(
            f"{x_name} has dimension {x.shape[1]} but {y_name} has dimension {y.shape[1]}; "
            f"particles and target must live in the same space{hint}"
        )


def require_1d(x, what):
    """Refuse points ``x`` (shape (n, d)) unless d = 1, naming ``what`` needs the line."""
    if x.shape[1] != 1:
        raise ValueError(
            f"{what} is 1-D only, but the points have dimension {x.shape[1]}. Use ExactPotential "
            "(any dimension) or EntropicPotential, or project to a line first."
        )
