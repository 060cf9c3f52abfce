#!/usr/bin/env python
"""Same as `altair predict`: see `python tools/predict.py --help`."""
import sys
from pathlib import Path

# the repo root, as for `python -m altair`: config custom_imports of projects/ (and tests/)
# modules resolve without PYTHONPATH
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from altair.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(['predict', *sys.argv[1:]]))
