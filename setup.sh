#!/usr/bin/env bash
# Set up edge on a fresh Debian 12 / Python 3.11 machine: system packages for the RTSP test server,
# browser tests, the MQTT broker for the fleet tests and the container image test, then a virtual
# environment in .venv with edge and its test tools.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  chromium chromium-driver fonts-wqy-microhei
  mosquitto
  podman buildah runc mmdebstrap
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/python scripts/fetch_plate_model.py  # the plate recogniser, from PyPI's rapidocr wheel (not kept in git)
echo "setup: done. Try: .venv/bin/edge demo"
