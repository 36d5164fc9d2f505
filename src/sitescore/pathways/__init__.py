"""Land pathways: which federal land can become a park, by which legal instrument, how fast.

table.py reads the shipped data/land_pathways.yaml (and a user's table); resolve.py gives each
parcel the first rule that holds; land.py splits the candidate land by a user's areas and
removes what the study's limits rule out.
"""

from .land import (
    LandPathways,
    PathwaySplit,
    check_areas,
    pathway_record,
    pathways_at_sites,
    split_land,
)
from .resolve import PATHWAY_COLUMNS, UnknownCodes, resolve_pathways, typical_months
from .table import Instrument, PathwayTable, Rule, load_pathway_table, table_from_doc

__all__ = ["PATHWAY_COLUMNS", "Instrument", "LandPathways", "PathwaySplit", "PathwayTable", "Rule",
           "UnknownCodes", "check_areas", "load_pathway_table", "pathway_record",
           "pathways_at_sites", "resolve_pathways", "split_land", "table_from_doc",
           "typical_months"]
