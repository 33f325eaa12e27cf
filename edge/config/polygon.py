"""Whether an operator's polygon can be a zone: checked where config is validated.

Kept in the config package (the zones package, which rasterises and tests points, builds on it) so
that config validation needs nothing from the stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]


def polygon_area(points: Sequence[Point]) -> float:
    """Absolute shoelace area of a polygon in its own units."""
    p = np.asarray(points, dtype=np.float64)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return (o1 * o2 < 0) and (o3 * o4 < 0)


def self_intersects(points: Sequence[Point]) -> bool:
    """True when two non-adjacent edges of the closed polygon properly cross."""
    p = np.asarray(points, dtype=np.float64)
    n = len(p)
    edges = [(p[i], p[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


def polygon_problem(points: Sequence[Sequence[float]]) -> str | None:
    """Why a normalised polygon is unusable as a zone, or None when it is fine."""
    if not 3 <= len(points) <= 20:
        return f"a zone polygon needs 3 to 20 points, got {len(points)}"
    for i, point in enumerate(points):
        if len(point) != 2:
            return f"point {i} must be [x, y], got {list(point)}"
        x, y = point
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return f"point {i} ({x}, {y}) is outside the frame: coordinates are normalised to 0..1"
    pts = [(float(x), float(y)) for x, y in points]
    if self_intersects(pts):
        return "the polygon's edges cross each other (self-intersecting)"
    if polygon_area(pts) < 1e-6:
        return "the polygon has (almost) zero area"
    return None
