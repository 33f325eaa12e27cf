"""Zone geometry: anchors inside/outside (concave polygons too), coverage, IoU, polygon validation."""

import numpy as np
import pytest

from edge.types import Detections
from edge.zones.geometry import box_iou, points_in_zone, polygon_problem, zone_coverage

W, H = 200, 100
# An L-shaped (concave) zone: the top-right quadrant is NOT inside.
L_SHAPE = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((10, 10), True),  # top-left arm
        ((150, 20), False),  # the notch of the L
        ((150, 80), True),  # bottom-right arm
        ((99, 49), True),  # near the inner corner, inside
        ((120, 40), False),  # near the inner corner, outside
        ((-5, 50), False),  # left of the frame
        ((50, 150), False),  # below the frame
    ],
)
def test_anchor_in_concave_zone(point, inside):
    assert points_in_zone(np.array([point], float), L_SHAPE, W, H).tolist() == [inside]


def test_bottom_centre_anchor_decides_membership():
    # A box whose body is in the notch but whose feet stand in the bottom arm counts as inside.
    dets = Detections(np.array([[140, 10, 160, 70], [140, 5, 160, 40]]), [0.9, 0.9], [0, 0])
    assert points_in_zone(dets.bottom_center, L_SHAPE, W, H).tolist() == [True, False]


def test_coverage_counts_union_once():
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    half = np.array([[0, 0, 100, 100]], float)
    assert zone_coverage(half, square, W, H) == pytest.approx(0.5, abs=0.01)
    overlapping = np.array([[0, 0, 100, 100], [50, 0, 100, 100]], float)
    assert zone_coverage(overlapping, square, W, H) == pytest.approx(0.5, abs=0.01)
    assert zone_coverage(np.zeros((0, 4)), square, W, H) == 0.0


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    assert box_iou(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


@pytest.mark.parametrize(
    ("points", "problem"),
    [
        ([[0, 0], [1, 0]], "3 to 20 points"),
        ([[0, 0], [1, 0], [1, 1.2]], "outside the frame"),
        ([[0, 0], [0.5, 0.5], [1, 1]], "zero area"),
        ([[0, 0], [1, 1], [1, 0], [0, 1]], "self-intersecting"),
        ([[i / 30, (i % 2) / 2] for i in range(21)], "3 to 20 points"),
    ],
)
def test_bad_polygons_are_named(points, problem):
    assert problem in (polygon_problem(points) or "")


def test_good_polygon_passes():
    assert polygon_problem([list(p) for p in L_SHAPE]) is None
