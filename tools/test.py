#!/usr/bin/env python
"""Same as `altair test`: see `python tools/test.py --help`."""
import sys

from altair.cli import main

if __name__ == '__main__':
    sys.exit(main(['test', *sys.argv[1:]]))
