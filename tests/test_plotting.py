"""Figures work for every problem (W1Flow, W2Flow, MeanFieldODE), with or without data, in 1-D and
2-D, for ragged (splitting) runs, and say what ran."""

import numpy as np
import pytest

from conftest import generic_cloud, rand_weights
from w1flow import Euler, MeanFieldODE, SaveAt, W1Flow, W2Flow, simulate
from w1flow.plotting import animate_flow, plot_snapshots


def _decay(x, a, t):
    return -x


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_title().startswith("t = ")]


@pytest.mark.parametrize("d", [1, 2])
def test_snapshots_of_a_mean_field_run_without_data(d):
    x0 = np.linspace(1.0, 2.0, 5 * d).reshape(5, d)
    res = simulate(MeanFieldODE(_decay), x0, 1.0, 0.1, saveat=SaveAt(every=2))
    fig = plot_snapshots(res, n_panels=4)
    panels = _panels(fig)
    assert len(panels) == 4 and all(len(ax.collections) == 1 for ax in panels)  # particles only
    assert panels[0].get_title() == "t = 0" and panels[-1].get_title() == "t = 1"
    assert fig._suptitle.get_text() == "euler, dt = 0.1, n = 5"
    assert panels[0].get_legend() is None  # nothing to tell apart
    np.testing.assert_array_equal(panels[-1].collections[0].get_offsets()[:, 0], res.xs[-1][:, 0])


def test_snapshots_of_w1_and_w2_flows_over_their_data(rng, tmp_path):
    y = generic_cloud(rng, 12, 2)
    x0 = y + 3.0
    for problem in (W1Flow(y), W2Flow(y)):
        res = simulate(problem, x0, 1.0, 0.25)
        fig = plot_snapshots(res, y, path=tmp_path / "s.png", n_panels=3, title="mine")
        panels = _panels(fig)
        assert len(panels) == 3 and all(len(ax.collections) == 2 for ax in panels)  # data, particles
        assert fig._suptitle.get_text() == "mine" and (tmp_path / "s.png").stat().st_size > 10_000
        assert ("W1 = " in panels[0].get_title()) == (res.w1 is not None)


def test_snapshots_of_a_splitting_run_with_ragged_snapshots(rng):
    y = generic_cloud(rng, 7, 2)
    res = simulate(W1Flow(y), generic_cloud(rng, 5, 2, shift=2.0), 1.0, 0.5, weights=rand_weights(rng, 5),
                   solver=Euler(split=True))
    assert len({x.shape[0] for x in res.xs}) > 1  # the particles split
    panels = _panels(plot_snapshots(res, y))
    assert [len(ax.collections[1].get_offsets()) for ax in panels] == [x.shape[0] for x in res.xs]


def test_animations_of_a_mean_field_run_without_data(tmp_path):
    from PIL import Image

    res = simulate(MeanFieldODE(_decay), np.linspace(1.0, 2.0, 8).reshape(4, 2), 1.0, 0.1)
    out = animate_flow(res, path=tmp_path / "m.gif", max_frames=6)
    with Image.open(out) as im:
        assert im.n_frames == 6
    with pytest.raises(ValueError, match=r"\bpath="):
        animate_flow(res)


def test_convergence_plots_carry_a_legend_with_the_fitted_slopes(rng):
    import matplotlib

    matplotlib.use("Agg")
    from w1flow import Heun
    from w1flow.closed_forms import w2_flow_closed_form
    from w1flow.convergence import dt_ladder, order_study

    y = generic_cloud(rng, 8, 2)
    x0 = y + 3.0
    problem = W2Flow(y)
    T0 = problem.target_map(x0, None)[0]
    ref = lambda x, w, T: w2_flow_closed_form(x, T0, T)  # noqa: E731
    ax = None
    for solver in (Euler(), Heun()):
        res = order_study(problem, x0, solver, 1.0, dt_ladder(0.1, 4), reference=ref, metric="w2",
                          label=solver.name)
        ax = res.plot(ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    studies = [s for s in labels if ": slope" in s]
    assert [s.split(":")[0] for s in studies] == ["euler", "heun"]
    assert abs(float(studies[0].split()[-1]) - 1) < 0.1 and abs(float(studies[1].split()[-1]) - 2) < 0.1
    assert labels.count("slope 1") == 1 and labels.count("slope 2") == 1  # each reference once
    assert all(t.get_text() == "" for t in ax.xaxis.get_minorticklabels())  # no overlapping minor labels


def test_second_order_states_are_drawn_by_the_coordinates_asked_for(tmp_path):
    from PIL import Image

    from w1flow.second_order import SecondOrderODE, VelocityVerlet

    prob = SecondOrderODE(lambda q, v, w, t: -q, dim=2, velocity_dependent=False)
    rng = np.random.default_rng(1)
    res = simulate(prob, prob.state(rng.normal(size=(9, 2)), 10.0 * rng.normal(size=(9, 2))), 1.0, 0.1,
                   solver=VelocityVerlet())
    for coords in [(0, 1), (1, 3), [2]]:
        panels = _panels(plot_snapshots(res, n_panels=2, coords=coords))
        got = panels[-1].collections[0].get_offsets()
        np.testing.assert_array_equal(got[:, 0], res.xs[-1][:, coords[0]])
        if len(coords) == 2:
            np.testing.assert_array_equal(got[:, 1], res.xs[-1][:, coords[1]])
            lo, hi = panels[-1].get_ylim()  # the limits are those of the coordinates drawn
            assert lo <= res.xs[-1][:, coords[1]].min() and hi < 2 * np.abs(np.vstack(res.xs)[:, coords[1]]).max() + 1
    with pytest.raises(ValueError, match=r"coords selects 3 columns"):
        plot_snapshots(res, coords=(0, 1, 2))
    with pytest.raises(ValueError, match=r"coords must select columns of the 4"):
        plot_snapshots(res, coords=(0, 7))
    out = animate_flow(res, path=tmp_path / "q.gif", max_frames=3, coords=(0, 1))
    with Image.open(out) as im:
        assert im.n_frames == 3


def test_the_potential_heat_map_shows_phi_on_its_grid_and_the_plan_velocities(rng, tmp_path):
    from w1flow import ExactPotential
    from w1flow.plotting import plot_potential

    y = generic_cloud(rng, 20, 2)
    x = generic_cloud(rng, 15, 2, shift=3.0)
    pot = ExactPotential()(x, None, y, None)
    fig = plot_potential(pot, y, path=tmp_path / "phi.png")
    ax = fig.axes[0]
    mesh = ax.collections[0]
    values = np.asarray(mesh.get_array()).reshape(150, 150)
    edges = mesh.get_coordinates()  # (151, 151, 2) cell corners; the cells are centred on the grid
    centres = 0.25 * (edges[:-1, :-1] + edges[1:, :-1] + edges[:-1, 1:] + edges[1:, 1:])
    np.testing.assert_allclose(values, pot(centres.reshape(-1, 2)).reshape(150, 150), rtol=0, atol=1e-12)
    # the map covers the particles and the data: φ is highest near the particles, lowest near the data
    assert values.max() >= pot(y).max() and values.min() <= pot(x).min()
    quiver = [c for c in ax.collections if type(c).__name__ == "Quiver"][0]
    np.testing.assert_allclose(np.column_stack([quiver.U, quiver.V]), pot.velocity)
    assert (tmp_path / "phi.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="draws 2-D potentials"):
        plot_potential(ExactPotential()(x[:, :1], None, y[:, :1], None))


def test_snapshots_can_draw_transport_arrows_from_each_start(rng):
    y = generic_cloud(rng, 12, 2)
    x0 = y + 3.0
    res = simulate(W1Flow(y), x0, 1.0, 0.25)
    panels = _panels(plot_snapshots(res, y, n_panels=3, arrows=True))
    quiver = [c for c in panels[-1].collections if type(c).__name__ == "Quiver"][0]
    np.testing.assert_allclose(np.column_stack([quiver.U, quiver.V]), res.xs[-1] - x0)
    assert not [c for c in panels[0].collections if type(c).__name__ == "Quiver"]  # nothing moved at t = 0
