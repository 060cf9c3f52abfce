"""Altair's land-cover classes for the Blue Marble dataset and their IGBP origin.

The 17 IGBP classes of MODIS MCD12C1 are merged into 8: the five forest types share one
class, and classes too rare at 0.05° to learn from a single global image (closed shrublands
0.07 %, permanent wetlands 0.2 %, urban 0.1 %, cropland/natural mosaic 0.2 % of all pixels)
join their closest common neighbour. Water stays its own class.
"""
from __future__ import annotations

IGNORE_INDEX = 255

CLASSES: tuple[str, ...] = (
    'water', 'forest', 'shrubland', 'savanna', 'grassland', 'cropland', 'snow_ice', 'barren')

PALETTE: tuple[tuple[int, int, int], ...] = (
    (28, 80, 160),    # water
    (20, 110, 40),    # forest
    (170, 140, 70),   # shrubland
    (190, 190, 60),   # savanna
    (130, 200, 90),   # grassland
    (230, 170, 200),  # cropland
    (240, 245, 255),  # snow_ice
    (200, 180, 150),  # barren
)

# IGBP code → (IGBP name, Altair class index)
IGBP_NAMES: dict[int, str] = {
    0: 'Water', 1: 'Evergreen Needleleaf Forest', 2: 'Evergreen Broadleaf Forest',
    3: 'Deciduous Needleleaf Forest', 4: 'Deciduous Broadleaf Forest', 5: 'Mixed Forests',
    6: 'Closed Shrublands', 7: 'Open Shrublands', 8: 'Woody Savannas', 9: 'Savannas',
    10: 'Grasslands', 11: 'Permanent Wetlands', 12: 'Croplands', 13: 'Urban and Built-up',
    14: 'Cropland/Natural Vegetation Mosaic', 15: 'Snow and Ice', 16: 'Barren',
}

IGBP_TO_ALTAIR: dict[int, int] = {
    0: 0,
    1: 1, 2: 1, 3: 1, 4: 1, 5: 1,
    6: 2, 7: 2,
    8: 3, 9: 3,
    10: 4, 11: 4,
    12: 5, 13: 5, 14: 5,
    15: 6,
    16: 7,
}
