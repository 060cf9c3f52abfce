import sys

from altair.cli import main

sys.exit(main())
