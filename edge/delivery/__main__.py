"""`python -m edge.delivery ARGS` runs `edge outbox ARGS` (e.g. `flush`) as a process of its own.

It loads only the outbox subcommand, not the whole CLI with its video and model stack.
"""

import sys

from edge.cli import main

sys.exit(main(["outbox", *sys.argv[1:]], commands=("outbox",)))
