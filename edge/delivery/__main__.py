"""`python -m edge.delivery ARGS` runs `edge outbox ARGS` (e.g. `flush`) as a process of its own.

It loads only the outbox subcommand, not the whole CLI with its video and model stack.
"""

import argparse
import logging
import sys

from edge.cli import UserError
from edge.cli.outbox import register
from edge.config import ConfigError

parser = argparse.ArgumentParser(prog="python -m edge.delivery")
register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(["outbox", *sys.argv[1:]])
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
try:
    sys.exit(args.func(args))
except (UserError, ConfigError) as exc:
    print(f"edge outbox: error: {exc}", file=sys.stderr)
    sys.exit(2)
