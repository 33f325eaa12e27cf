"""`edge run --config CFG`: the long-running worker for every configured camera, with its operator API.

SIGTERM and SIGINT stop it cleanly: API closed, streams closed, inference drained, every case already
analysed written to the outbox, SQLite files closed. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from edge.api.app import create_app
from edge.cli import UserError
from edge.config import load_config
from edge.http_server import ThreadedServer
from edge.runtime.worker import Worker
from edge.zones.store import ZoneStore

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

    # a signal while the models load or the state is restored still ends the worker cleanly
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    with ExitStack() as running:
        running.callback(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])
        zone_store = ZoneStore(Path(config.storage.dir) / "zones.json")
        # zones edited through the API win over the file's; a start that fails writes nothing, so the
        # worker checks the zones it would adopt (against the loaded models) before they are saved
        live, zone_versions = zone_store.adopt(config, dry_run=True)
        worker = Worker(live, zone_versions)
        running.callback(worker.stop)
        zone_store.adopt(config)
        if live.api.enabled:
            app = create_app(worker, zone_store, live.api)  # refuses to run without an API token
            server = ThreadedServer(app, live.api.host, live.api.port).start()
            running.callback(server.stop)
            log.info("operator API listening", extra={"url": server.url, "editor": f"{server.url}/editor/"})
        worker.start()
        while not stop.wait(1.0):
            pass
    return 0
