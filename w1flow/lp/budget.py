"""The memory budget of dense n × m computations, and row chunking for those that stream.

A dense LP holds several float64 n × m matrices at once; :func:`check_memory` refuses one that
would exceed the budget before anything is allocated. Evaluations over all n·m pairs that need
no LP (certificates, c-transforms, soft-minima, Lipschitz checks) run on row chunks
(:func:`row_chunks`), so their memory stays bounded whatever the sizes.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MEMORY_BUDGET", "LP_DENSE_MATRICES", "CHUNK_BYTES", "MemoryBudgetError", "dense_bytes",
           "check_memory", "row_chunks", "fits_dense"]

#: Default memory budget (bytes) for dense cost and plan matrices.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3

#: Dense float64 n x m matrices one exact LP holds at its peak: the cost, the plan and the network
#: simplex's own per-arc arrays (cost, flow, state). Measured: 41 bytes per pair at n = m = 3000
#: (peak RSS of cdist + ot.emd), so 5 matrices; n = m = 10^4 then needs 4.0 GB.
LP_DENSE_MATRICES = 5

#: Rows per chunk of chunked n x m evaluations (certificate, c-transform) are chosen so one chunk
#: of distances stays under this many bytes.
CHUNK_BYTES = 32 * 1024**2


class MemoryBudgetError(MemoryError):
    """A dense n × m computation would exceed the configured memory budget."""


def dense_bytes(n, m, n_matrices=3):
    """Bytes used by ``n_matrices`` dense float64 n × m arrays (cost, plan, POT's copy)."""
    return 8 * n * m * n_matrices


def fits_dense(n, m, max_memory):
    """True when the dense W1 LP (:data:`LP_DENSE_MATRICES` n × m matrices) fits ``max_memory``
    bytes (``None``: no budget)."""
    return max_memory is None or not dense_bytes(n, m, LP_DENSE_MATRICES) > max_memory


def check_memory(n, m, budget, what="the exact LP", n_matrices=3):
    """Raise :class:`MemoryBudgetError` if ``n_matrices`` dense n × m matrices exceed ``budget`` bytes.

    Nothing is allocated: call it before building the matrices.
    """
    if budget is None:
        return
    need = dense_bytes(n, m, n_matrices)
    if need > budget:
        raise MemoryBudgetError(
            f"{what} needs dense {n} x {m} matrices (about {need / 1e9:.2f} GB), over the memory "
            f"budget of {budget / 1e9:.2f} GB. Raise max_memory=..., solve it exactly without the "
            "matrices with method='auto' (the default of ExactPotential and metrics.w1: the sparse LP past "
            "the budget) or method='sparse' (certified; slower per LP), or use a route that scales: the 1-D quantile flow, sliced W1 (metrics.sliced_w1), the entropic potential with a "
            "smaller sample, or the neural critic (CriticPotential). For the exact flow, "
            "CappedEuler needs this LP only once (record its W1 from the plan, not with LPs)."
        )


def row_chunks(k, m, chunk_bytes=CHUNK_BYTES):
    """Slices of ``range(k)`` such that a float64 block of (rows, m) stays under ``chunk_bytes``.

    Every chunked k × m evaluation (certificate, c-transform, soft-min, Lipschitz over pairs)
    goes through this, so memory stays O(chunk_bytes + (k + m) d) whatever the sizes.
    """
    step = max(1, int(chunk_bytes) // (8 * max(m, 1)))
    for start in range(0, k, step):
        yield slice(start, min(k, start + step))
