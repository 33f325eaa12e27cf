"""`python -m edge.receiver ARGS` runs `edge receiver ARGS` as a process of its own.

It loads only the receiver subcommand, not the whole CLI with its video and model stack.
"""

import argparse
import logging
import sys

from edge.cli import UserError
from edge.cli.receiver import register
from edge.http_server import ServerError

parser = argparse.ArgumentParser(prog="python -m edge.receiver")
register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(["receiver", *sys.argv[1:]])
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
try:
    sys.exit(args.func(args))
except (UserError, ServerError) as exc:
    print(f"edge receiver: error: {exc}", file=sys.stderr)
    sys.exit(2)
