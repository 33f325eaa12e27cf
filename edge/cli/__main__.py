"""Run as `python -m edge.cli`."""

import sys

from edge.cli import main

sys.exit(main())
