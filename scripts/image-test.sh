#!/usr/bin/env bash
# Build the container image and start it, on a machine with podman but no Docker engine or registry:
#   1. a Debian base image made here from Debian packages (mmdebstrap, imported into podman);
#   2. the Dockerfile built on it (BASE build argument), pip fed from a wheelhouse downloaded on the host;
#   3. the container started with a mounted config and storage volume, as its non-root user, until its
#      own HEALTHCHECK (/healthz) passes;
#   4. `edge replay` of the bundled clip inside the running container: exactly its two 0505 cases;
#   5. SIGTERM: exit code 0, the worker's stop logged, the outbox closed (no WAL left behind).
# Everything lives in a private podman storage under one temporary folder, removed on exit, failure
# included. Needs root, podman, runc and mmdebstrap (setup.sh installs them) and the .venv of setup.sh.
# IMAGE_TEST_WHEELHOUSE=0 lets pip in the build download from the package index instead.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
UID_IN_IMAGE=10001   # the Dockerfile's USER
started=$SECONDS

say() { echo "image-test: $*"; }
fail() { echo "image-test: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (podman's storage and mmdebstrap need it)"
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run ./setup.sh"
done
[ -x "$PYTHON" ] || fail "$PYTHON is missing: run ./setup.sh"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/edge-image-test.XXXXXX")
NAME=edge-image-test-$$
BASE=localhost/$NAME-base:bookworm
IMAGE=localhost/$NAME:latest
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
events_logger = "file"
EOF
PODMAN=(env CONTAINERS_CONF="$WORK/containers.conf" TMPDIR="$WORK" podman --root "$WORK/storage"
  --runroot "$WORK/run" --tmpdir "$WORK/libpod" --runtime /usr/sbin/runc)
pod() { "${PODMAN[@]}" "$@"; }
exec 3>&1 4>&2  # the script's own outputs, for a cleanup that runs inside a redirected command
cleanup() {
  local rc=$?
  exec 1>&3 2>&4
  # the podman storage is private to this run: --all removes only what this run made
  pod rm --all --force --time 0 >/dev/null 2>&1 || true
  pod rmi --all --force >/dev/null 2>&1 || true
  findmnt --raw --noheadings --output TARGET | grep "^$WORK/" | sort -r | xargs -r umount -l || true
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then
    say "passed in $((SECONDS - started)) s; removed its containers, images and $WORK"
  else
    say "failed after $((SECONDS - started)) s (exit $rc); removed its containers, images and $WORK" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t=$SECONDS
say "base image from Debian packages (mmdebstrap bookworm minbase: python3, python3-venv, ca-certificates)"
# minbase, like the official slim image: Essential plus apt and the libraries it brings (libstdc++, which
# the numpy wheel needs); unsafe-io: no fsync per file for a tree that only becomes a tarball (2-3x faster
# here); no man pages, translations or docs beyond the copyright files.
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
  --dpkgopt=force-unsafe-io --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' bookworm "$WORK/base.tar"
pod import --quiet "$WORK/base.tar" "$BASE" >/dev/null
rm "$WORK/base.tar"
base_size=$(pod image inspect --format '{{.Size}}' "$BASE")
say "base image ready in $((SECONDS - t)) s; size $((base_size / 1000000)) MB"

build_args=(--build-arg "BASE=$BASE")
if [ "${IMAGE_TEST_WHEELHOUSE:-1}" != 0 ]; then
  t=$SECONDS
  mkdir "$WORK/wheels"
  # the host's pip (its cache and configured indexes) picks what the suite's .venv would; setuptools builds edge
  "$PYTHON" -m pip download --disable-pip-version-check --dest "$WORK/wheels" . "setuptools>=68" \
    >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; fail "pip could not download the wheels"; }
  say "wheelhouse of $(find "$WORK/wheels" -name '*.whl' | wc -l) wheels in $((SECONDS - t)) s"
  build_args+=(-v "$WORK/wheels:/wheels:ro" --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheels)
fi

t=$SECONDS
say "building the image from the Dockerfile"
# chroot isolation: no nested namespaces needed; docker format: keeps HEALTHCHECK (OCI images drop it);
# the host's CA bundle lets pip reach the package index when it is used.
pod build --quiet --isolation chroot --network host --format docker --layers=false \
  -v /etc/ssl/certs:/etc/ssl/certs:ro "${build_args[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log" >&2; fail "the image did not build"; }
build_s=$((SECONDS - t))
size=$(pod image inspect --format '{{.Size}}' "$IMAGE")
say "image built in ${build_s} s; size $((size / 1000000)) MB uncompressed, of which the base" \
  "$((base_size / 1000000)) MB and the Dockerfile's layers $(((size - base_size) / 1000000)) MB"
user=$(pod image inspect --format '{{.Config.User}}' "$IMAGE")
[ "${user%%:*}" = "$UID_IN_IMAGE" ] || fail "the image runs as '$user', expected uid $UID_IN_IMAGE"

# The live worker: the demo's camera, zones and rules, with the image's paths.
mkdir "$WORK/config" "$WORK/data"
"$PYTHON" - "$WORK/config/edge.yaml" <<'EOF'
import sys

import yaml

config = yaml.safe_load(open("streams/demo.yaml", encoding="utf-8"))
config["models"][0]["path"] = "/opt/edge/models/centernet-mbv3-coco.onnx"
config["cameras"][0]["source"]["url"] = "/opt/edge/streams/vtest.avi"
config["storage"] = {"dir": "/var/lib/edge"}
config["api"] = {"host": "0.0.0.0", "port": 8080}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    yaml.safe_dump(config, out, allow_unicode=True, sort_keys=False)
EOF
chown "$UID_IN_IMAGE:$UID_IN_IMAGE" "$WORK/data"  # the volume belongs to the image's non-root user
volumes=(-v "$WORK/config:/config:ro" -v "$WORK/data:/var/lib/edge" -v "$REPO/streams:/opt/edge/streams:ro")

t=$SECONDS
# No network: /healthz is checked from inside, and the platform stays unreachable (cases wait in the outbox).
# No systemd here to time health checks: the loop below runs the image's HEALTHCHECK itself.
no_timer_noise() { grep -v 'unable to get systemd connection to .* healthchecks' >&2 || true; }
pod run --detach --name "$NAME" --network none --health-interval disable \
  -e EDGE_API_TOKEN=image-test-token-0123456789 "${volumes[@]}" "$IMAGE" >/dev/null 2> >(no_timer_noise)
until pod healthcheck run "$NAME" >/dev/null 2>&1; do
  if [ "$(pod inspect --format '{{.State.Running}}' "$NAME")" != true ]; then
    pod logs "$NAME" >&2 || true
    fail "the container stopped before it was healthy"
  fi
  [ $((SECONDS - t)) -lt 120 ] || { pod logs "$NAME" >&2; fail "not healthy after 120 s"; }
  sleep 1
done
say "container healthy after $((SECONDS - t)) s: its HEALTHCHECK got 200 from /healthz, running as uid" \
  "$(pod exec "$NAME" id -u)"

say "replaying the bundled clip inside the running container"
pod exec --workdir /opt/edge --env COLUMNS=160 "$NAME" \
  edge replay streams/vtest.avi --config streams/demo.yaml --out /var/lib/edge/replay
"$PYTHON" - "$WORK/data/replay/cases.jsonl" <<'EOF'
import json
import sys

new = [m for m in map(json.loads, open(sys.argv[1], encoding="utf-8")) if m["kind"] == "new"]
codes = sorted(m["body"]["event"]["code"] for m in new)
if codes != ["0505", "0505"]:
    sys.exit(f"image-test: FAILED: the in-container replay gave cases {codes}, expected two 0505")
for m in new:
    print(f"image-test: case {m['case_id']} {m['body']['event']['code']} {m['body']['detection']['class']}")
EOF

t=$SECONDS
queued() { pod logs "$NAME" 2>&1 | grep -c '"msg": "case message queued"' || true; }
until [ "$(queued)" -ge 2 ]; do  # the live worker, paced like a camera, confirms the same two after 20 s of clip
  [ $((SECONDS - t)) -lt 120 ] || { pod logs "$NAME" >&2; fail "the live worker queued no two cases in 120 s"; }
  sleep 2
done
say "the live worker queued its two cases in its outbox"

say "SIGTERM to the worker"
t=$SECONDS
pod kill --signal TERM "$NAME" >/dev/null
code=$(timeout 60 "${PODMAN[@]}" wait "$NAME") || fail "still running 60 s after SIGTERM"
stop_s=$((SECONDS - t))
pod logs "$NAME" >"$WORK/run.log" 2>&1
grep -q '"msg": "stopping on signal".*"signal": "SIGTERM"' "$WORK/run.log" \
  || { cat "$WORK/run.log" >&2; fail "no 'stopping on signal' SIGTERM line in the worker's log"; }
grep -q '"msg": "worker stopped"' "$WORK/run.log" \
  || { cat "$WORK/run.log" >&2; fail "no 'worker stopped' line: the worker did not close its outbox"; }
[ "$code" = 0 ] || { cat "$WORK/run.log" >&2; fail "exit code $code after SIGTERM, expected 0"; }
[ -f "$WORK/data/outbox.db" ] || fail "no outbox.db in the storage volume"
[ ! -s "$WORK/data/outbox.db-wal" ] || fail "outbox.db-wal left behind: the outbox was not closed"
say "clean exit in ${stop_s} s: code 0, 'worker stopped' logged, outbox closed (no WAL left)"
say "the storage volume, read by a fresh container (the platform is unreachable: the cases wait in the outbox):"
pod run --rm --network none --health-interval disable "${volumes[@]}" "$IMAGE" \
  outbox --config /config/edge.yaml status 2> >(no_timer_noise) | tee "$WORK/outbox.txt"
grep -Eq '^pending +2 ' "$WORK/outbox.txt" || fail "the outbox does not hold the live worker's two cases"
say "build ${build_s} s, image $((size / 1000000)) MB"
