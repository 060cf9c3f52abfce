#!/usr/bin/env python
"""Same as `altair predict`: see `python tools/predict.py --help`."""
import sys

from altair.cli import main

if __name__ == '__main__':
    sys.exit(main(['predict', *sys.argv[1:]]))
