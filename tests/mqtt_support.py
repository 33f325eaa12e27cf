"""A real Mosquitto broker for the MQTT tests (Debian's `mosquitto`, no broker mock).

Each broker gets a free 127.0.0.1 port and a generated config with persistence on
(saved after every queued message, so a SIGKILL loses as little as Mosquitto allows),
optionally a password file and a TLS listener with a throw-away CA made by `openssl`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

needs_mosquitto = pytest.mark.skipif(
    not Path(MOSQUITTO).exists(), reason="mosquitto is not installed (./setup.sh installs it)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_tls(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost, valid for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=edge test CA",
            "-keyout", str(files["ca-key"]), "-out", str(files["ca"]))  # fmt: skip
    csr = folder / "server.csr"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(files["server-key"]), "-out", str(csr))  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey", str(files["ca-key"]),
            "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(files["server"]))  # fmt: skip
    return files


class Mosquitto:
    """One broker process; `kill()` is a SIGKILL, `start()` again comes back on the same port."""

    def __init__(
        self, folder: Path, *, users: dict[str, str] | None = None, tls: dict[str, Path] | None = None
    ) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.scheme = "mqtts" if tls else "mqtt"
        lines = [
            f"user {getpass.getuser()}",  # as root, mosquitto would switch to its own user and lose the folder
            f"listener {self.port} {self.host}",
            "persistence true",
            f"persistence_location {folder}/",
            "autosave_interval 1",
            "autosave_on_changes true",
            "set_tcp_nodelay true",  # small acknowledgements go out at once, not after a delayed TCP ACK
            f"log_dest file {folder}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if users:
            passwd = folder / "passwd"
            passwd.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), user, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['server']}", f"keyfile {tls['server-key']}"]
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # an orphan must not keep the port after a crashed test
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no final save of its database."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
