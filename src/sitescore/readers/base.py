"""What every reader shares, by one name: the registry (`registry`), safe opening of local
files (`safety`), vector files (`vector`), tables (`tables`) and the final step into a
canonical EPSG:5070 layer (`canonical`). Each part lives in its own module; this one keeps
the names importable from `sitescore.readers.base`, where callers have long found them.
"""

from __future__ import annotations

from .canonical import (
    MAX_LAT_DEG,
    MAX_LON_DEG,
    MAX_PLANAR_M,
    drop_off_the_map,
    off_the_map,
    to_canonical,
)
from .registry import READERS, LayerSource, ReaderSpec, check_options, reader
from .safety import (
    LOCAL_ONLY_GDAL,
    MAX_VRT_DEPTH,
    POSTGIS_PREFIX,
    first_line,
    is_network_path,
    local_only,
    path_status,
    refuse_network_sources,
    require_file,
)
from .tables import (
    clip_points_to_area,
    find_field,
    parse_number,
    points_from_lonlat,
    read_table,
    require_field,
)
from .vector import VECTOR_KINDS, gdal_notes, open_source, open_vector, vector_file

__all__ = [
    "LOCAL_ONLY_GDAL", "MAX_LAT_DEG", "MAX_LON_DEG", "MAX_PLANAR_M", "MAX_VRT_DEPTH",
    "POSTGIS_PREFIX", "READERS", "VECTOR_KINDS", "LayerSource", "ReaderSpec", "check_options",
    "clip_points_to_area", "drop_off_the_map", "find_field", "first_line", "gdal_notes",
    "is_network_path", "local_only", "off_the_map", "open_source", "open_vector", "parse_number",
    "path_status", "points_from_lonlat", "read_table", "reader", "refuse_network_sources",
    "require_field", "require_file", "to_canonical", "vector_file",
]
