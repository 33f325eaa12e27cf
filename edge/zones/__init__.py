"""Zones: normalised polygons (masks, anchor tests, coverage, matching) and their versioned store."""
