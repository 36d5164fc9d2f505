"""Site growing on a hand-made grid: contiguity, size, spacing, determinism."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers import square_cells
from sitescore.candidates import cell_adjacency
from sitescore.config import SitesConfig
from sitescore.locate import grow_sites, site_table
from sitescore.schema import SQM_PER_ACRE

CELL_ACRES = 1e6 / SQM_PER_ACRE  # 1 km cell = 247.1 acres


def scored(n_cols, n_rows, scores, excluded=None):
    cells = square_cells(n_cols, n_rows)
    cells["score"] = scores
    cells["excluded"] = excluded if excluded is not None else np.zeros(len(cells), bool)
    cells["eligible_acres"] = CELL_ACRES
    cells["agency"] = "BLM"
    cells["unit_name"] = ["North FO" if i % n_cols < n_cols / 2 else "South FO" for i in range(len(cells))]
    cells["state"] = "NM"
    cells["raw__a"] = np.arange(len(cells), dtype=float)
    cells["value__a"] = scores
    cells["weight__a"] = 1.0
    cells["contribution__a"] = scores
    return cells


def test_adjacency_is_by_shared_edge_not_corner():
    adj = cell_adjacency(square_cells(3, 3))
    assert sorted(adj[4].tolist()) == [1, 3, 5, 7]  # centre cell: 4 edge neighbours
    assert sorted(adj[0].tolist()) == [1, 3]


def test_site_grows_to_min_acres_through_best_neighbours():
    # 5x1 strip: best cell in the middle, site needs 3 cells (3 x 247 acres >= 700)
    cells = scored(5, 1, [0.1, 0.8, 0.9, 0.5, 0.2])
    site_of = grow_sites(cells, cell_adjacency(cells), SitesConfig(min_site_acres=700, min_spacing_km=0,
                                                                    max_sites=5))
    assert site_of.tolist() == [1, 1, 1, 0, 0] or site_of.tolist()[1:4] == [1, 1, 1]
    assert set(np.flatnonzero(site_of == 1)) == {1, 2, 3}


def test_excluded_cells_break_contiguity_and_small_pieces_make_no_site():
    scores = [0.9, 0.9, 0.9, 0.1]
    cells = scored(4, 1, scores, excluded=np.array([False, True, False, False]))
    site_of = grow_sites(cells, cell_adjacency(cells), SitesConfig(min_site_acres=400, min_spacing_km=0))
    # cell 0 alone is too small; cells 2+3 form a site
    assert site_of.tolist() == [0, 0, 1, 1]


def test_sites_are_spaced_apart():
    # a 10 x 1 strip of equally good cells; sites of one cell, 3 km apart at least
    cells = scored(10, 1, [0.5] * 10)
    site_of = grow_sites(cells, cell_adjacency(cells), SitesConfig(min_site_acres=200, min_spacing_km=3))
    members = np.flatnonzero(site_of)
    assert len(members) == 3  # cells 0, 4, 8 (gaps of 3 km between edges), ties by cell id
    assert members.tolist() == [0, 4, 8]


def test_site_table_ranks_by_acre_weighted_score_and_names_by_majority_unit():
    cells = scored(4, 1, [0.2, 0.9, 0.8, 0.7])
    site_of = np.array([1, 1, 2, 2])
    sites = site_table(cells, site_of, ["a"])
    assert sites["rank"].tolist() == [1, 2]
    assert sites.iloc[0]["site_id"] == 2 and sites.iloc[0]["score"] == pytest.approx(0.75)
    assert sites.iloc[1]["score"] == pytest.approx(0.55)
    assert sites.iloc[0]["name"] == "BLM – South FO"
    assert abs(sites.iloc[0]["acres"] - 2 * CELL_ACRES) < 1e-6
    assert sites.iloc[0]["raw__a"] == pytest.approx(2.5)


def test_same_input_same_sites():
    rng = np.random.default_rng(3)
    cells = scored(12, 12, rng.uniform(0, 1, 144).round(2))
    cfg = SitesConfig(min_site_acres=1000, min_spacing_km=2, max_sites=10)
    a = grow_sites(cells, cell_adjacency(cells), cfg)
    shuffled = cells.sample(frac=1, random_state=1).reset_index(drop=True)
    b = grow_sites(shuffled, cell_adjacency(shuffled), cfg)
    # the same cells form the same sites whatever the row order (site numbers follow the seeds)
    by_id_a = dict(zip(cells["cell_id"], a, strict=True))
    by_id_b = dict(zip(shuffled["cell_id"], b, strict=True))
    assert by_id_a == by_id_b
    assert a.max() >= 3


@settings(max_examples=40, deadline=None)
@example(5, 7, 7, 742.0, 0.0)  # equal-score sites whose mean was summed in another order
@given(st.integers(4, 9), st.integers(4, 9), st.integers(0, 2**31 - 1), st.floats(200, 1500),
       st.floats(0, 4))
def test_sites_do_not_depend_on_row_order(n_cols, n_rows, seed, min_acres, spacing):
    """Identical inputs give identical sites, whatever order the cells arrive in."""
    rng = np.random.default_rng(seed)
    cells = scored(n_cols, n_rows, rng.choice([0.2, 0.5, 0.7, 0.9], n_cols * n_rows),
                   excluded=rng.uniform(size=n_cols * n_rows) < 0.15)
    cfg = SitesConfig(min_site_acres=min_acres, min_spacing_km=spacing, max_sites=6)
    a = grow_sites(cells, cell_adjacency(cells), cfg)
    shuffled = cells.sample(frac=1, random_state=seed % 1000).reset_index(drop=True)
    b = grow_sites(shuffled, cell_adjacency(shuffled), cfg)
    assert dict(zip(cells["cell_id"], a, strict=True)) == dict(zip(shuffled["cell_id"], b, strict=True))
    sa = site_table(cells, a, ["a"]).drop(columns="geometry")
    sb = site_table(shuffled, b, ["a"]).drop(columns="geometry")
    pd.testing.assert_frame_equal(sa, sb)


def _adjacency_by_touches(cells):
    import sitescore.candidates as candidates
    saved = candidates._square_neighbours, candidates._h3_neighbours
    candidates._square_neighbours = candidates._h3_neighbours = lambda *_: None
    try:
        return cell_adjacency(cells)
    finally:
        candidates._square_neighbours, candidates._h3_neighbours = saved


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_lattice_adjacency_equals_geometric_touches_on_grids_with_holes(n_cols, n_rows, seed):
    rng = np.random.default_rng(seed)
    cells = square_cells(n_cols, n_rows, size=2000.0, x0=-6000.0, y0=4000.0)
    cells = cells[rng.random(len(cells)) < 0.7].sample(frac=1, random_state=seed).reset_index(drop=True)
    fast, slow = cell_adjacency(cells), _adjacency_by_touches(cells)
    assert [a.tolist() for a in fast] == [b.tolist() for b in slow]


def test_h3_adjacency_equals_geometric_touches():
    import shapely

    from sitescore.candidates import h3_grid
    cells = h3_grid(shapely.box(-900_000, 1_300_000, -880_000, 1_315_000), 7)
    cells = cells.iloc[::-1].reset_index(drop=True)
    fast, slow = cell_adjacency(cells), _adjacency_by_touches(cells)
    assert sum(len(a) for a in fast) > 4 * len(cells)
    assert [a.tolist() for a in fast] == [b.tolist() for b in slow]


def test_cells_that_are_not_a_lattice_use_their_geometry():
    import shapely
    cells = square_cells(3, 1)
    # the middle cell is shifted off the lattice by half a cell and shares half an edge with each
    # neighbour: no lattice, so the geometric test decides, and they are still contiguous
    cells.loc[1, "geometry"] = shapely.box(1000, 500, 2000, 1500)
    adj = cell_adjacency(cells)
    assert [a.tolist() for a in adj] == [[1], [0, 2], [1]]
