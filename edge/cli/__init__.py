"""The `edge` command: one subcommand module per job, each with a `register(subparsers)`.

Errors an operator can fix (config, model, source problems) are printed as one clear message with
exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.i18n import cli_language, text, translate

SUBCOMMANDS = ("demo", "replay", "run", "eval", "receiver", "outbox")


class UserError(Exception):
    """A problem with the operator's input, printed without a traceback."""


def _operator_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is the whole story for an operator (imported late: startup stays fast)."""
    from edge.cases import StoreError
    from edge.config import ConfigError
    from edge.delivery.outbox import OutboxError
    from edge.http_server import ServerError
    from edge.infer import ModelError
    from edge.ingest import SourceError

    return (ConfigError, UserError, ModelError, SourceError, ServerError, StoreError, OutboxError)


def build_parser(commands: Sequence[str] = SUBCOMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="Edge video-analytics worker for city management.")
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands:
        importlib.import_module(f"edge.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None, commands: Sequence[str] = SUBCOMMANDS) -> int:
    """Run one subcommand; `commands` limits which are loaded (`python -m edge.delivery` loads only one)."""
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    from edge.runtime.logs import setup_logging

    setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except _operator_errors() as exc:
        lang = cli_language()  # EDGE_LANG=zh-CN: the operator reads Simplified Chinese
        problem = translate(str(exc), lang)
        print(text("edge {command}: error: {problem}", lang, command=args.command, problem=problem), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("edge").info("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
