"""`python -m edge.receiver ARGS` runs `edge receiver ARGS` as a process of its own.

It loads only the receiver subcommand, not the whole CLI with its video and model stack.
"""

import sys

from edge.cli import main

sys.exit(main(["receiver", *sys.argv[1:]], commands=("receiver",)))
