"""`edge receiver`: run the stand-in city platform, optionally misbehaving on purpose."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import ValidationError

from edge.cli import UserError
from edge.config.delivery import MqttConfig, MqttTlsConfig
from edge.config.load import format_validation_error
from edge.delivery.mqtt import MqttSetupError
from edge.http_server import serve
from edge.receiver.app import create_app
from edge.receiver.faults import Faults
from edge.receiver.mqtt import DEFAULT_GROUP, MqttConsumer
from edge.receiver.store import ReceiverStore
from edge.receiver.verdicts import HttpVerdicts, VerdictChannel


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "receiver",
        help="run the stand-in platform receiver (FastAPI + SQLite)",
        description="Accepts case messages exactly once at POST /api/cases and lists them at GET /api/cases. "
        "Fault switches can also be changed while it runs: PUT /admin/faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8787, help="port (default: %(default)s)")
    parser.add_argument("--db", type=Path, default=Path("var/receiver.db"), help="SQLite file (default: %(default)s)")
    auth = parser.add_argument_group("authentication (off unless given)")
    auth.add_argument("--token-env", metavar="VAR", help="require the bearer token held in this env variable")
    auth.add_argument("--hmac-secret-env", metavar="VAR", help="require HMAC signatures with the secret in this var")
    mqtt = parser.add_argument_group("MQTT: also consume case messages from a broker (a shared subscription)")
    mqtt.add_argument("--mqtt", metavar="URL", help="mqtt://host[:port] or mqtts://host[:port]")
    mqtt.add_argument("--mqtt-prefix", default="edge", help="topic prefix of the boxes (default: %(default)s)")
    mqtt.add_argument("--mqtt-group", default=DEFAULT_GROUP, help="shared subscription group (default: %(default)s)")
    mqtt.add_argument("--mqtt-client-id", help="this receiver's client id (default: edge-receiver-<port>)")
    mqtt.add_argument("--mqtt-username-env", metavar="VAR", help="env variable holding the broker user name")
    mqtt.add_argument("--mqtt-password-env", metavar="VAR", help="env variable holding the broker password")
    mqtt.add_argument("--mqtt-ca", metavar="FILE", help="CA bundle for an mqtts:// broker")
    boxes = parser.add_argument_group(
        "verdicts: POST /api/cases/{case}/verdict sends the operator's verdict to the case's box "
        "(over --mqtt when given, else to one box's operator API)"
    )
    boxes.add_argument("--box-api", metavar="URL", help="the box's operator API, e.g. http://127.0.0.1:8080")
    boxes.add_argument("--box-token-env", metavar="VAR", help="env variable holding the box's API token")
    faults = parser.add_argument_group("fault switches, for tests and demos")
    faults.add_argument("--down", action="store_true", help="answer every case post with 503")
    faults.add_argument("--fail-rate", type=float, default=0.0, help="fraction of posts failed with --fail-status")
    faults.add_argument(
        "--fail-status", type=int, action="append", help="status of a failed post (repeatable; default 500 and 503)"
    )
    faults.add_argument("--lose-ack", action="store_true", help="store failed posts anyway (the answer gets lost)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="delay before every case-post answer")
    faults.add_argument("--reject-rate", type=float, default=0.0, help="fraction of new posts rejected as 4xx")
    faults.add_argument("--reject-case", action="append", default=[], help="reject posts of this case id (repeatable)")
    faults.add_argument("--reject-status", type=int, default=400, help="status of a rejection (default: 400)")
    faults.add_argument("--retry-after", type=int, help="Retry-After seconds on 429/503 answers")
    faults.add_argument("--seed", type=int, help="seed the fault dice, to reproduce a flaky run")
    parser.set_defaults(func=run)


def _secret(var: str | None, what: str) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UserError(f"{what}: environment variable {var} is not set or empty")
    return value


def build_faults(args: argparse.Namespace) -> Faults:
    try:
        return Faults(
            down=args.down,
            fail_rate=args.fail_rate,
            fail_statuses=args.fail_status or [500, 503],
            lose_ack=args.lose_ack,
            latency_s=args.latency_ms / 1000.0,
            reject_rate=args.reject_rate,
            reject_case_ids=args.reject_case,
            reject_status=args.reject_status,
            retry_after_s=args.retry_after,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UserError(f"invalid fault switches: {problems}") from None


def build_consumer(args: argparse.Namespace) -> MqttConsumer:
    try:
        mqtt = MqttConfig(
            url=args.mqtt,
            topic_prefix=args.mqtt_prefix,
            username_env=args.mqtt_username_env or "EDGE_MQTT_USERNAME",
            password_env=args.mqtt_password_env or "EDGE_MQTT_PASSWORD",
            tls=MqttTlsConfig(ca_file=str(args.mqtt_ca) if args.mqtt_ca else None),
        )
    except ValidationError as exc:
        raise UserError(f"invalid MQTT options:\n{format_validation_error(exc)}") from None
    env = os.environ if args.mqtt_username_env else {}
    try:
        return MqttConsumer(
            ReceiverStore(args.db),
            mqtt,
            args.mqtt_client_id or f"edge-receiver-{args.port}",
            group=args.mqtt_group,
            env=env,
        )
    except MqttSetupError as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    token = _secret(args.token_env, "--token-env")
    secret = _secret(args.hmac_secret_env, "--hmac-secret-env")
    faults = build_faults(args)
    consumer = build_consumer(args) if args.mqtt else None
    verdicts: VerdictChannel | None = None
    if consumer is not None:
        verdicts = consumer.verdicts
    elif args.box_api:
        verdicts = HttpVerdicts(args.box_api, _secret(args.box_token_env, "--box-token-env"))
    app = create_app(
        args.db,
        token=token,
        hmac_secret=secret.encode() if secret else None,
        faults=faults,
        seed=args.seed,
        verdicts=verdicts,
    )
    print(f"edge receiver: http://{args.host}:{args.port}/api/cases, storing into {args.db}", flush=True)
    if consumer is not None:
        consumer.start()
        print(f"edge receiver: consuming {args.mqtt} as {args.mqtt_group} (shared subscription)", flush=True)
    try:
        serve(app, args.host, args.port)
    finally:
        if consumer is not None:
            consumer.stop()
    return 0
