"""`edge run --config CFG`: the long-running worker for every configured camera.

SIGTERM and SIGINT stop it cleanly: streams closed, inference drained, every case already
analysed written to the outbox, SQLite files closed. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from edge.cli import UserError
from edge.config import load_config
from edge.runtime.worker import Worker

log = logging.getLogger("edge.run")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run the worker on all configured cameras until stopped")
    parser.add_argument("--config", "-c", type=Path, required=True, help="worker config (YAML)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not any(c.enabled for c in config.cameras):
        raise UserError(f"{args.config}: no enabled cameras to run")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal", extra={"signal": signal.Signals(signum).name})
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker = Worker(config)
    try:
        worker.start()
        while not stop.wait(1.0):
            pass
    finally:
        worker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
