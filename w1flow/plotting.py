"""Figures: particle snapshots, W1 against time, GIF animations, convergence (log-log) plots, sweeps.

The flow figures take a :class:`~w1flow.FlowResult`, :func:`plot_convergence` a
:class:`~w1flow.convergence.ConvergenceResult`; they write files or draw on given axes, and
never call ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_snapshots", "plot_potential", "plot_w1", "plot_functional", "animate_flow", "plot_convergence",
           "plot_sweep"]


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _xy(x):
    """First two coordinates (1-D clouds are drawn on the line y = 0)."""
    if x.shape[1] >= 2:
        return x[:, 0], x[:, 1]
    return x[:, 0], np.zeros(x.shape[0])


def _columns(result, coords):
    """The snapshots' columns to draw: ``coords`` (one or two indices), or all of them."""
    if coords is None:
        return list(result.xs)
    idx = _columns_index(coords, result.xs[0].shape[1])
    if idx.size > 2:
        raise ValueError(f"coords selects {idx.size} columns; a scatter plot shows one or two (e.g. coords=(0, 1)).")
    return [x[:, idx] for x in result.xs]


def _columns_index(coords, d):
    from .metrics import select_coords

    return select_coords(coords, d)


def _limits(xs, target):
    pts = np.vstack(xs)[:, :2]
    if target is not None:
        pts = np.concatenate([pts, np.atleast_2d(target)[:, :2]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.05 * (hi - lo).max() + 1e-9
    return lo - pad, hi + pad


def _default_title(result):
    """What ran, for a figure's title: the solver and the step (any problem, W1 or not)."""
    solver = result.solver.replace("_", " ") if result.solver else "flow"
    dt = "" if not np.isfinite(result.dt) else f", dt = {result.dt:g}"
    n = result.xs[0].shape[0]
    return f"{solver}{dt}, n = {n}"


def _target(target):
    if target is None:
        return None
    target = np.asarray(target, dtype=float)
    return target[:, None] if target.ndim == 1 else target


def plot_snapshots(result, target=None, path=None, n_panels=6, title=None, coords=None, arrows=False):
    """Grid of particle snapshots (first two coordinates), over the data if given.

    Works for any problem (``W1Flow``, ``W2Flow``, ``MeanFieldODE``): 1-D clouds are drawn on a
    line; the W1 value is shown when the run recorded it.

    Parameters
    ----------
    result : FlowResult
    target : ndarray, shape (m, d), optional
        Data points, drawn in grey (none for problems without data).
    path : str or Path, optional
        Where to write the PNG. The figure is returned either way.
    n_panels : int
        Number of snapshots shown (evenly spaced among the saved ones; first and last included).
    title : str, optional
        The figure's title; default: the solver, dt and the number of particles.
    coords : sequence of int, optional
        The one or two coordinates to draw (default: the first two), e.g. ``(0, 1)`` for the
        positions of a second-order state ``[q, v]``, or ``(0, 2)`` for the phase plane of the
        first coordinate. The target (if any) is drawn with the same coordinates.
    arrows : bool
        Draw transport arrows: from each particle's start (its parent in ``x0``) to where it is
        in the panel (at most 200 of them, evenly chosen), so the panels show where mass went.
    """
    target = _target(target)
    xs = _columns(result, coords)
    if target is not None and coords is not None:
        target = target[:, _columns_index(coords, target.shape[1])]
    k = len(result.ts)
    idx = np.unique(np.linspace(0, k - 1, min(n_panels, k)).round().astype(int))
    cols = min(3, len(idx))
    rows = int(np.ceil(len(idx) / cols))
    fig = _figure(figsize=(4 * cols, 4 * rows), layout="constrained")
    lo, hi = _limits(xs, target)
    two_d = xs[0].shape[1] >= 2
    for p, i in enumerate(idx):
        ax = fig.add_subplot(rows, cols, p + 1)
        if target is not None:
            ax.scatter(*_xy(target), s=4, c="0.7", label="data")
        ax.scatter(*_xy(xs[i]), s=4, c="tab:blue", label="particles")
        if arrows and i > 0 and two_d:
            start = xs[0][result.parents[i]]  # each particle's start (splitting runs: its parent's)
            pick = np.unique(np.linspace(0, xs[i].shape[0] - 1, min(200, xs[i].shape[0])).round().astype(int))
            d = xs[i][pick] - start[pick]
            ax.quiver(start[pick, 0], start[pick, 1], d[:, 0], d[:, 1], angles="xy", scale_units="xy", scale=1.0,
                      width=0.003, color="tab:red", alpha=0.5)
        w1 = "" if result.w1 is None else f", W1 = {result.w1[i]:.3g}"
        ax.set_title(f"t = {result.ts[i]:.3g}{w1}")
        ax.set_xlim(lo[0], hi[0])
        if two_d:
            ax.set_ylim(lo[1], hi[1])
            ax.set_aspect("equal", adjustable="box")
        else:
            ax.set_yticks([])
        if p == 0 and target is not None:
            ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(_default_title(result) if title is None else title)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_potential(potential, target=None, path=None, grid=150, n_arrows=150, title=None, ax=None):
    """A 2-D potential φ as a heat map with contours, the particles, the data, and the particles'
    velocities ``−∇φ`` (for the exact LP: the plan velocity) as arrows.

    Parameters
    ----------
    potential : Potential
        A potential object in 2-D (``ExactPotential()(x, a, y, b)``, a critic's, …): callable on
        points, with ``x`` (its particles) and ``velocity``.
    target : ndarray, shape (m, 2), optional
        The data, drawn in grey.
    path : str or Path, optional
        Where to write the PNG.
    grid : int
        Grid points per axis of the heat map.
    n_arrows : int
        At most this many velocity arrows (evenly chosen particles).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw there instead of a new figure.

    Returns
    -------
    Figure
    """
    x = np.asarray(potential.x)
    if x.shape[1] != 2:
        raise ValueError(f"plot_potential draws 2-D potentials; this one lives in {x.shape[1]} dimensions.")
    target = _target(target)
    pts = x if target is None else np.concatenate([x, target[:, :2]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.1 * (hi - lo).max() + 1e-9
    gx = np.linspace(lo[0] - pad, hi[0] + pad, int(grid))
    gy = np.linspace(lo[1] - pad, hi[1] + pad, int(grid))
    X, Y = np.meshgrid(gx, gy)
    Z = np.asarray(potential(np.column_stack([X.ravel(), Y.ravel()])), dtype=float).reshape(X.shape)
    if ax is None:
        fig = _figure(figsize=(6, 5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    mesh = ax.pcolormesh(X, Y, Z, cmap="viridis", shading="auto")
    ax.contour(X, Y, Z, levels=12, colors="white", linewidths=0.5, alpha=0.6)
    fig.colorbar(mesh, ax=ax, label="φ (high on the particles, low on the data)")
    if target is not None:
        ax.scatter(target[:, 0], target[:, 1], s=4, c="0.85", label="data")
    ax.scatter(x[:, 0], x[:, 1], s=4, c="tab:red", label="particles")
    V = np.asarray(potential.velocity)
    pick = np.unique(np.linspace(0, x.shape[0] - 1, min(int(n_arrows), x.shape[0])).round().astype(int))
    ax.quiver(x[pick, 0], x[pick, 1], V[pick, 0], V[pick, 1], color="white", width=0.003, alpha=0.8)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_title(title if title is not None else f"potential and velocities −∇φ (W1 = {float(potential.w1):.3g})")
    ax.legend(loc="upper left", fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_w1(curves, path=None, closed_form=None, title="W1 to the data"):
    """W1 against time on a log scale.

    Parameters
    ----------
    curves : dict
        ``{label: FlowResult}``; each result must have recorded ``w1``.
    path : str or Path, optional
        Where to write the PNG.
    closed_form : tuple (ts, values), optional
        A reference curve (e.g. the capped-flow closed form), dashed.

    Notes
    -----
    Zero values (the capped flow reaches W1 = 0 exactly) cannot be drawn on a log axis; they are
    dropped and the last positive point is marked.
    """
    fig = _figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for label, res in curves.items():
        if res.w1 is None:
            raise ValueError(f"result {label!r} has no W1 history (SaveAt(w1=None)).")
        pos = res.w1 > 0
        ax.semilogy(res.ts[pos], res.w1[pos], "-o", ms=2, label=label)
    if closed_form is not None:
        ts, vals = closed_form
        vals = np.asarray(vals)
        pos = vals > 0
        ax.semilogy(np.asarray(ts)[pos], vals[pos], "k--", lw=1, label="closed form")
    ax.set_xlabel("t")
    ax.set_ylabel("W1(μ_t, μ_data)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_functional(curves, path=None, title=None):
    """Each flow's own functional against time (``FlowResult.functional``: W2 for ``W2Flow``, the
    f-divergence estimate of a ``MonoFlow``), on a log scale when every value is positive.

    Parameters
    ----------
    curves : dict
        ``{label: FlowResult}``; each result must carry a functional.
    path : str or Path, optional
        Where to write the PNG.
    title : str, optional
        Default: the functionals' names.
    """
    fig = _figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    names = []
    positive = True
    for label, res in curves.items():
        if res.functional is None:
            raise ValueError(f"result {label!r} has no functional of its own (only W2Flow and MonoFlow record one; "
                             "use plot_w1 for W1).")
        names.append(res.functional_name)
        ax.plot(res.ts, res.functional, "-o", ms=2, label=f"{label}: {res.functional_name}")
        vals = np.asarray(res.functional)
        positive = positive and bool(np.all(vals[np.isfinite(vals)] > 0))
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("functional")
    ax.set_title(title or ", ".join(dict.fromkeys(names)))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def animate_flow(result, target=None, path=None, fps=12, max_frames=80, coords=None):
    """Write a GIF of the saved snapshots (Pillow writer, shipped with matplotlib).

    Parameters
    ----------
    result : FlowResult
    target : ndarray, optional
        Data points, drawn in grey (none for problems without data).
    path : str or Path
        Output ``.gif`` file (required).
    fps : int
        Frames per second.
    max_frames : int
        At most this many snapshots (evenly spaced) become frames.
    coords : sequence of int, optional
        The one or two coordinates to draw (as for :func:`plot_snapshots`).
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    if path is None:
        raise ValueError("animate_flow needs path=, the .gif file to write (e.g. path='flow.gif').")
    k = len(result.ts)
    frames = np.unique(np.linspace(0, k - 1, min(max_frames, k)).round().astype(int))
    fig = _figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    target = _target(target)
    xs = _columns(result, coords)
    if target is not None and coords is not None:
        target = target[:, _columns_index(coords, target.shape[1])]
    lo, hi = _limits(xs, target)
    if target is not None:
        ax.scatter(*_xy(target), s=4, c="0.7")
    scat = ax.scatter(*_xy(xs[0]), s=4, c="tab:blue")
    ax.set_xlim(lo[0], hi[0])
    if xs[0].shape[1] >= 2:
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal", adjustable="box")
    else:
        ax.set_ylim(-1.0, 1.0)
        ax.set_yticks([])
    title = ax.set_title("")

    def update(i):
        scat.set_offsets(np.column_stack(_xy(xs[i])))
        w1 = "" if result.w1 is None else f"  W1 = {result.w1[i]:.3g}"
        title.set_text(f"t = {result.ts[i]:.2f}{w1}")
        return scat, title

    anim = FuncAnimation(fig, update, frames=frames, blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps))
    return path


def plot_convergence(result, ax=None, label=None, reference_slopes=(1, 2, 4), floor=1e-17, **kwargs):
    """Log-log plot of a convergence study's error against dt, with dashed reference slopes.

    Parameters
    ----------
    result : ConvergenceResult
    ax : matplotlib Axes, optional
        Where to draw (a new figure otherwise).
    label : str, optional
        Legend entry (default: ``result.legend()``, the fitted slope).
    reference_slopes : sequence of int
        Orders drawn as dashed lines through the first point when within 0.5 of the fit.
    floor : float
        Errors of exactly 0 are drawn at this value.
    **kwargs
        Passed to ``ax.loglog`` (``marker`` and ``linestyle`` default to ``"o"`` and ``"-"``).

    Returns
    -------
    matplotlib Axes
        With a legend: each study's label (its fitted slope) and the reference slopes.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    err = np.maximum(result.errors, floor)
    lab = label if label is not None else result.legend()
    kwargs.setdefault("marker", "o")
    kwargs.setdefault("linestyle", "-")
    (line,) = ax.loglog(result.dts, err, label=lab, **kwargs)
    if reference_slopes:
        x0, y0 = result.dts[0], err[0]
        shown = {ln.get_label() for ln in ax.get_lines()}
        for p in reference_slopes:
            if np.isfinite(result.slope) and abs(p - result.slope) < 0.5:
                name = f"slope {p}" if f"slope {p}" not in shown else "_nolegend_"  # once per axes
                ax.loglog(result.dts, y0 * (result.dts / x0) ** p, "--", color=line.get_color(),
                          alpha=0.35, lw=1, label=name)
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # labels on decades only: minor labels overlap
    ax.set_xlabel("dt")
    ax.set_ylabel(f"error at T ({result.metric})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)  # every study drawn on these axes so far, with its fitted slope
    return ax


def plot_sweep(rows, keys, path=None):
    """Final W1 against each swept parameter of a sweep (:func:`w1flow.sweep.summarize`'s rows).

    One panel per key: every cell with a final W1 is a dot, the mean over the other parameters
    a line (numeric values) or a bar per category (other values). The W1 axis is logarithmic
    when the values span more than a decade.

    Parameters
    ----------
    rows : list of dict
        Each with the swept values under ``keys`` and ``w1_final`` (None for cells without one).
    keys : list of str
        The swept parameters, ``"table.key"``.
    path : str or Path, optional
        Where to write the PNG.
    """
    import json

    done = [r for r in rows if r.get("w1_final") is not None]
    fig = _figure(figsize=(4.2 * max(1, len(keys)), 3.6), layout="constrained")
    axes = fig.subplots(1, max(1, len(keys)), squeeze=False)[0]
    w1s = [r["w1_final"] for r in done]
    for ax, key in zip(axes, keys):
        values = []
        for r in rows:
            if r[key] not in values:
                values.append(r[key])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        pos = {json.dumps(v): (v if numeric else i) for i, v in enumerate(values)}
        ax.plot([pos[json.dumps(r[key])] for r in done], w1s, "o", alpha=0.5, label="cells")
        means = []
        for v in values:
            w = [r["w1_final"] for r in done if json.dumps(r[key]) == json.dumps(v)]
            if w:
                means.append((pos[json.dumps(v)], sum(w) / len(w)))
        if means:
            means.sort()
            ax.plot(*zip(*means), "-" if numeric else "_", color="k", markersize=24, label="mean")
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set_xlim(-0.5, len(values) - 0.5)
        elif values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_xscale("log")
        elif len(values) <= 12:
            ax.set_xticks(sorted(values))
        if w1s and min(w1s) > 0 and max(w1s) / min(w1s) > 10:
            ax.set_yscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel("final W1")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if not keys:
        axes[0].set_axis_off()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
