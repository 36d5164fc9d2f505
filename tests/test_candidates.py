"""Eligible land and candidate cells on hand-made parcels with areas known by hand."""

import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from helpers import layer
from sitescore.candidates import (
    BUFFER_WIDENING,
    eligible_land,
    h3_grid,
    make_cells,
    shortlist_cells,
    square_grid,
)
from sitescore.config import CandidatesConfig
from sitescore.errors import SitescoreError
from sitescore.schema import SQM_PER_ACRE
from sitescore.study_area import StudyArea

KM2_ACRES = 1e6 / SQM_PER_ACRE


def parcels():
    return layer(
        [shapely.box(0, 0, 10_000, 10_000),        # BLM field office
         shapely.box(0, 0, 2_000, 10_000),         # BLM wilderness inside it
         shapely.box(8_000, 8_000, 10_000, 10_000),  # tribal inholding
         shapely.box(20_000, 0, 30_000, 10_000),   # USFS forest
         shapely.box(10_000, 0, 12_000, 2_000)],   # national park next door, GAP 1
        unit_name=["Rio Puerco FO", "Ojito Wilderness", "Zia Pueblo", "Cibola NF", "Test NP"],
        own_type=["FED", "FED", "TRIB", "FED", "FED"],
        own_name=["BLM", "BLM", "TRIB", "USFS", "NPS"],
        mang_type=["FED", "FED", "TRIB", "FED", "FED"],
        mang_name=["BLM", "BLM", "TRIB", "USFS", "NPS"],
        designation=["", "WA", "", "NF", "NP"],
        gap_status=[3.0, 1.0, np.nan, 3.0, 1.0],
        state=["NM"] * 5, gis_acres=[0.0] * 5)


def cfg(**kw):
    base = {"agencies": ["BLM"], "exclude": {"buffer_km": 1}, "grid": {"kind": "square", "size_km": 2}}
    base.update(kw)
    return CandidatesConfig.model_validate(base)


def test_eligible_land_removes_protected_buffered_and_tribal():
    land = eligible_land(parcels(), cfg(), StudyArea("all"))
    # BLM 10x10 km minus wilderness + buffer (x < 2 + w km), minus park + buffer (x > 10 - w for
    # y < 2 + w, with a round corner), minus the tribal 2x2 km corner (x > 8, y > 8);
    # w is the 1 km buffer as widened to keep at least 1 km after GEOS's chords
    w = 1_000 * BUFFER_WIDENING
    wilderness_cut = (2_000 + w) * 10_000
    park_cut = w * (2_000 + w) - (1 - np.pi / 4) * w**2
    tribal_cut = 2_000 * 2_000
    expected = 100e6 - wilderness_cut - park_cut - tribal_cut
    assert shapely.area(land.geometry) == pytest.approx(expected, rel=1e-3)
    assert land.summary["GAP status 1"] == pytest.approx((wilderness_cut + park_cut) / SQM_PER_ACRE, rel=1e-3)
    assert land.summary["tribal or non-federal land"] == pytest.approx(tribal_cut / SQM_PER_ACRE, rel=1e-3)
    assert set(land.excluded["reason"]) >= {"GAP status 1", "owner type TRIB"}
    # no eligible point is closer than 1 km to the protected parcels
    protected = shapely.union_all(parcels().geometry.values[[1, 4]])
    assert shapely.distance(land.geometry, protected) >= 1_000 - 1e-6


def test_gap_status_rule_reported_before_designation():
    land = eligible_land(parcels(), cfg(exclude={"gap_status": [], "designations": ["WA"], "buffer_km": 0}),
                         StudyArea("all"))
    assert shapely.area(land.geometry) == pytest.approx(8_000 * 10_000 - 4_000_000, rel=1e-6)


def test_cells_keep_share_and_carry_agency_and_unit():
    land = eligible_land(parcels(), cfg(exclude={"gap_status": [], "designations": ["WA"], "buffer_km": 0}),
                         StudyArea("all"))
    cells = make_cells(land, cfg(min_eligible_share=0.5))
    # 2 km grid over x 2..10, y 0..10: 4 x 5 = 20 cells, minus the tribal corner cell (x 8-10, y 8-10)
    assert len(cells) == 19
    assert np.allclose(cells["eligible_acres"], 4 * KM2_ACRES)
    assert set(cells["unit_name"]) == {"Rio Puerco FO"} and set(cells["agency"]) == {"BLM"}
    assert cells["cell_id"].is_unique and cells["cell_id"].iloc[0].startswith("sq2000_")


def test_agency_filter():
    land = eligible_land(parcels(), cfg(agencies=["USFS"]), StudyArea("all"))
    assert shapely.area(land.geometry) == pytest.approx(100e6, rel=1e-6)


def test_no_land_for_agency_names_the_key():
    with pytest.raises(SitescoreError, match=r"candidates\.agencies"):
        eligible_land(parcels(), cfg(agencies=["DOE"]), StudyArea("all"))


def test_square_grid_is_aligned_and_stable():
    a = square_grid(shapely.box(100, 100, 3_900, 1_900), 1)
    b = square_grid(shapely.box(1_100, 100, 3_900, 1_900), 1)
    assert len(a) == 8 and set(b["cell_id"]) <= set(a["cell_id"])
    assert shapely.bounds(a.geometry.values).min(axis=0)[0] == 0


def test_h3_grid_covers_the_land_with_hexagons():
    # a 10 km box somewhere in New Mexico (EPSG:5070 metres)
    box = shapely.box(-900_000, 1_300_000, -890_000, 1_310_000)
    cells = h3_grid(box, 7)
    assert cells["cell_id"].str.len().eq(15).all()
    covered = shapely.area(shapely.intersection(shapely.union_all(cells.geometry.values), box))
    assert covered == pytest.approx(1e8, rel=1e-3)
    # the equal-area projection keeps each hexagon's own (ellipsoidal) area
    assert np.median(shapely.area(cells.geometry.values)) == pytest.approx(
        np.median([h3.cell_area(c, "m^2") for c in cells["cell_id"]]), rel=1e-3)


def test_shortlist_cells_keep_ids_and_refuse_duplicates():
    sl = layer([shapely.Point(0, 0).buffer(1000), shapely.Point(5000, 0).buffer(1000)],
               candidate_id=["A", "B"], name=["Alpha", "Beta"])
    cells = shortlist_cells(sl)
    assert cells["cell_id"].tolist() == ["A", "B"]
    sl["candidate_id"] = ["A", "A"]
    with pytest.raises(SitescoreError, match="appears twice"):
        shortlist_cells(sl)


def test_covered_area_matches_plain_intersection_on_a_ragged_polygon():
    from sitescore.candidates import covered_area
    rng = np.random.default_rng(5)
    blobs = shapely.union_all(shapely.buffer(shapely.points(rng.uniform(0, 40_000, (60, 2))),
                                             rng.uniform(500, 4_000, 60)))
    cells = square_grid(blobs, 1).geometry.values
    exact = shapely.area(shapely.intersection(cells, blobs))
    np.testing.assert_allclose(covered_area(cells, blobs, tile_cells=4), exact, rtol=1e-9, atol=1e-3)


def test_tribal_designation_is_removed_whatever_the_owner_type():
    land = parcels()
    land.loc[2, ["own_type", "designation"]] = ["DESG", "TRIBL"]
    result = eligible_land(land, cfg(exclude={"gap_status": [], "designations": [], "buffer_km": 0}),
                           StudyArea("all"))
    assert shapely.area(result.geometry) == pytest.approx(100e6 - 4e6, rel=1e-6)
    assert "tribal land" in set(result.excluded["reason"])


def test_cells_without_a_state_take_the_state_under_their_centroid():
    from sitescore.candidates import fill_states
    cells = layer([shapely.box(0, 0, 1000, 1000), shapely.box(5000, 0, 6000, 1000),
                   shapely.box(9000, 0, 10000, 1000)], state=[None, "CO", None])
    states = layer([shapely.box(-100, -100, 4000, 2000), shapely.box(4000, -100, 8000, 2000)],
                   abbrev=["NM", "CO"])
    got = fill_states(cells, states)["state"].tolist()
    assert got[:2] == ["NM", "CO"] and pd.isna(got[2])
