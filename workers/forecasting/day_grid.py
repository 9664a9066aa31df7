"""Dated daily series on one common day grid (column 0 = the grid's first day), as float arrays.

Pure. Used by `forecast_demand` and the backtest so both build the core's input the same way.
"""

from collections.abc import Sequence
from datetime import date

import numpy as np
from numpy.typing import NDArray

from contracts.errors import PlanningError
from contracts.planning import Regressor

Floats = NDArray[np.float64]


def place(row: Floats, values: Sequence[float | int | None], *, start: date, grid_start: date) -> None:
    """Write `values` (day by day from `start`) into `row` (day by day from `grid_start`), in place.

    Days outside the row are dropped; `None` becomes NaN (missing).
    """
    data = np.array(values, dtype=float)
    offset = (start - grid_start).days
    skip = max(0, -offset)
    stop = min(offset + data.size, row.size)
    if stop > offset + skip:
        row[offset + skip : stop] = data[skip : stop - offset]


def regressor_matrix(regressors: Sequence[Regressor], *, grid_start: date, days: int) -> Floats:
    """R × `days` from `grid_start` on, rows sorted by name, NaN where a regressor has no value.

    Raises `PlanningError` when two regressors share a name.
    """
    by_name: dict[str, Regressor] = {}
    for regressor in regressors:
        if regressor.name in by_name:
            raise PlanningError(
                f"forecasting: regressor {regressor.name!r} is given twice; send one series per regressor name"
            )
        by_name[regressor.name] = regressor
    matrix = np.full((len(by_name), days), np.nan)
    for row, name in enumerate(sorted(by_name)):
        regressor = by_name[name]
        place(matrix[row], regressor.values, start=regressor.start_date, grid_start=grid_start)
    return matrix
