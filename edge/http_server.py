"""Serve a FastAPI app with uvicorn: blocking (a CLI) or in a background thread (the worker's API, the demo's
receiver, tests)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 15.0


class ServerError(Exception):
    """The server could not listen (address in use, not allowed); the message says where."""


class ThreadedServer:
    """uvicorn serving `app` on host:port in a daemon thread; port 0 picks a free port.

    `stop()` closes the listener, so clients get connection refused, as when a real
    platform goes down; `start()` again listens on the same port.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedServer:
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="edge-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise ServerError(f"could not listen on {self.host}:{self.port} (address in use or not allowed)")
            time.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)
        self._server = self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM), in the calling thread."""
    uvicorn.run(app, host=host, port=port, log_level="info", lifespan="off")
