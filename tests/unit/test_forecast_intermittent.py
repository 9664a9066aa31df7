"""Known-answer tests of the slow-mover methods: Syntetos–Boylan classes, SBA and TSB."""

import numpy as np
import pytest

from workers.forecasting.intermittent import DemandClass, demand_class, demand_shape, sba_path, tsb_path

pytestmark = pytest.mark.unit

NAN = float("nan")


@pytest.mark.parametrize(
    ("adi", "cv2", "expected"),
    [
        (1.32, 0.49, DemandClass.SMOOTH),  # exactly on both boundaries: the lower side
        (1.33, 0.49, DemandClass.INTERMITTENT),
        (1.32, 0.50, DemandClass.ERRATIC),
        (1.33, 0.50, DemandClass.LUMPY),
        (1.0, 0.0, DemandClass.SMOOTH),
    ],
)
def test_syntetos_boylan_boundaries(adi: float, cv2: float, expected: DemandClass) -> None:
    assert demand_class(adi, cv2) is expected


def test_adi_counts_open_days_only_and_cv2_uses_nonzero_sizes() -> None:
    # 6 known days (the NaN is a closed day), 3 demands of 2, 4, 6: ADI 2, CV² = (8/3) / 16.
    shape = demand_shape(np.array([[0.0, 2.0, NAN, 0.0, 4.0, 0.0, 6.0]]))

    assert shape.adi[0] == pytest.approx(2.0)
    assert shape.cv2[0] == pytest.approx((8 / 3) / 16)
    assert shape.classes() == [DemandClass.INTERMITTENT]


def test_a_series_without_any_demand_is_intermittent_with_infinite_adi() -> None:
    shape = demand_shape(np.array([[0.0, 0.0, 0.0]]))

    assert shape.adi[0] == np.inf
    assert shape.classes()[0].sporadic


def test_sba_by_hand() -> None:
    # First demand 3 after 3 open days: z = 3, p = 3. Next demand 5 after 2: z = 3.2, p = 2.9.
    path = sba_path(np.array([[0.0, 0.0, 3.0, 0.0, 5.0]]), alpha=0.1)

    assert path[0, :3].tolist() == [0.0, 0.0, 0.0]
    assert path[0, 3] == pytest.approx(0.95 * 3 / 3)
    assert path[0, 5] == pytest.approx(0.95 * 3.2 / 2.9)


def test_sba_does_not_count_a_closed_day_in_the_interval() -> None:
    with_closed_day = sba_path(np.array([[0.0, NAN, 0.0, 3.0, 0.0, 5.0]]), alpha=0.1)
    without = sba_path(np.array([[0.0, 0.0, 3.0, 0.0, 5.0]]), alpha=0.1)

    assert with_closed_day[0, -1] == pytest.approx(without[0, -1])


def test_tsb_by_hand() -> None:
    # First demand 3 after 3 open days: d = 1/3, z = 3. A zero: d = 0.3. Demand 5: d = 0.37, z = 3.2.
    path = tsb_path(np.array([[0.0, 0.0, 3.0, 0.0, 5.0]]), alpha=0.1, beta=0.1)

    assert path[0, 3] == pytest.approx(1.0)
    assert path[0, 4] == pytest.approx(0.3 * 3)
    assert path[0, 5] == pytest.approx(0.37 * 3.2)


def test_tsb_decays_through_zeros_while_sba_stays() -> None:
    values = np.array([[4.0, 0.0, 4.0] + [0.0] * 20])

    assert tsb_path(values)[0, -1] < tsb_path(values)[0, 3] / 2
    assert sba_path(values)[0, -1] == sba_path(values)[0, 3]
