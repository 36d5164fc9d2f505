import numpy as np
import pandas as pd
import pytest

from sitescore.filters import parse_where

DF = pd.DataFrame({"voltage_kv": [69, 345, 500, np.nan], "road_class": ["a", "interstate", "b", None],
                   "class1": [True, False, True, False]})


@pytest.mark.parametrize("expr,expected", [
    ("voltage_kv >= 345", [False, True, True, False]),
    ("voltage_kv >= 345 and voltage_kv < 500", [False, True, False, False]),
    ("road_class == 'interstate' or voltage_kv == 69", [True, True, False, False]),
    ("road_class in ['a', 'b']", [True, False, True, False]),
    ("not class1 == True", [False, True, False, True]),
    ("voltage_kv > -1", [True, True, True, False]),
])
def test_filters(expr, expected):
    assert parse_where(expr)(DF).tolist() == expected


@pytest.mark.parametrize("expr", ["__import__('os').system('x')", "voltage_kv >= (1+2)", "a <", "f(x) == 1",
                                  "voltage_kv.real > 3"])
def test_anything_but_comparisons_is_refused(expr):
    with pytest.raises(ValueError):
        parse_where(expr)


def test_unknown_column_is_named():
    with pytest.raises(KeyError, match="no column 'volts'"):
        parse_where("volts > 3")(DF)
