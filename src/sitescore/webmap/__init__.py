"""The run's web map: scored cells, ranked sites with their score breakdown, input layers.

One function, :func:`write_map`, turns the pipeline's tables (all in EPSG:5070) into a single
folium/Leaflet HTML page:

- candidate cells coloured by score (a legend stretched to the scores shown), excluded cells
  grey with the reason on hover and click; a square grid travels as compact arrays and is
  painted on canvas tiles (``grid``, ``assets/sitescore/grid.js``), other cells as features;
- ranked sites outlined and numbered; the number opens a popup with the site's breakdown
  (raw value, 0..1 score, weight and contribution per criterion, as small inline bars);
- every input layer as its own toggle in the layer control (off by default), styled by what
  matters to a planner (transmission by voltage, plants sized by MW, land by agency, ...);
- a title box with the criteria and weights, a layer key and the run's notes, and a banner
  when the data is synthetic.

- weight sliders (one per criterion) that score every cell again and grow the sites again as
  `sitescore run --weights` would (``assets/sitescore/regrow.js``; on cells of no square lattice
  they re-rank the run's sites and say so), "Reset" and "Export weights as YAML";
- a side panel of the ranked sites (click to zoom and open one; a search box over site and unit
  names), and fullscreen, measure and minimap controls.

The page is kept light (geometries simplified to display scale, coordinates rounded to 5
decimals, canvas rendering, compact JSON; past :data:`PAGE_BUDGET_BYTES` the cells are drawn as
blocks), every data string is HTML-escaped before it goes anywhere near the page, and the output
is byte-for-byte deterministic: folium's random element ids are replaced by a counter while the
map is built and rendered.

With ``offline=True`` the page needs no network at all: Leaflet and the plugins are inlined from
the files vendored in ``assets/`` (their npm packages' dist files, with their licences), and state
outlines stand in for the basemap tiles.

The parts, each importing only those before it (and :mod:`sitescore.formatting`): ``styles``
(colours and layer styles), ``assets`` (CDN and vendored files, inlining), ``elements`` (folium
pieces, the deterministic build), ``popups`` (tooltips, the site breakdown), ``layers`` (input
layers, cells and blocks, exclusions, rank stability), ``grid`` (a square grid's cells as the
page's packed arrays, places), ``controls`` (title box, site panel, key,
layer control, basemaps, fullscreen, measure, minimap), ``network`` (a network of parks: parks
by role, links, its panel) and ``page`` (the build and the atomic write).
"""

from __future__ import annotations

from sitescore.formatting import esc
from sitescore.scoring import CriterionInfo

from . import assets, controls, elements, layers, page, popups, styles
from .assets import ASSETS_DIR, MAP_CSS, MAP_JS, OFFLINE_ASSETS, inline_assets
from .controls import SYNTHETIC_BANNER
from .elements import Raw, deterministic_build
from .layers import CELL_BYTES_ESTIMATE, PAGE_BUDGET_BYTES
from .network import NetworkLayer
from .page import AGGREGATIONS, write_map
from .styles import plant_radius

__all__ = ["AGGREGATIONS", "ASSETS_DIR", "CELL_BYTES_ESTIMATE", "MAP_CSS", "MAP_JS",
           "OFFLINE_ASSETS", "PAGE_BUDGET_BYTES", "SYNTHETIC_BANNER", "CriterionInfo",
           "NetworkLayer", "Raw", "assets", "controls", "deterministic_build", "elements", "esc",
           "inline_assets", "layers", "page", "plant_radius", "popups", "styles", "write_map"]
