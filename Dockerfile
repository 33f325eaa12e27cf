# The edge worker: `edge run` on every camera of the mounted config, the bundled model baked in.
#
#   docker build -t edge .
#   docker run -d --name edge -p 8080:8080 \
#     -v "$PWD/edge.yaml:/config/edge.yaml:ro" -v edge-data:/var/lib/edge \
#     -e EDGE_PLATFORM_TOKEN=... -e EDGE_API_TOKEN=... edge
#
# In the mounted config: models[].path /opt/edge/models/centernet-mbv3-coco.onnx, storage.dir
# /var/lib/edge, api.host 0.0.0.0 (to reach the API from outside) and api.port 8080.
# BASE is any image with Python 3.11 and its venv module: the official slim image by default;
# scripts/image-test.sh builds and starts it on a Debian base made with mmdebstrap.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
# A venv at one path works the same on /usr/local (official images) and /usr (Debian) Pythons.
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY edge/ edge/
# PyAV, onnxruntime and OpenCV wheels bundle their native libraries: no compiler, no apt packages.
# Unset, pip downloads from the package index; scripts/image-test.sh passes PIP_NO_INDEX=1 and
# PIP_FIND_LINKS=/wheels with a wheelhouse mounted there, downloaded once on the host.
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
RUN /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools

FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
COPY models/ /opt/edge/models/
RUN groupadd --system --gid 10001 edge \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/edge --no-create-home edge \
    && mkdir -p /var/lib/edge /config \
    && chown 10001:10001 /var/lib/edge
USER 10001:10001
WORKDIR /var/lib/edge
VOLUME ["/var/lib/edge"]
EXPOSE 8080
# Liveness only (the API answers); camera trouble shows on /readyz and /metrics, not as a restart loop.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4); sys.exit(r.status != 200)"]
# Exec form: `edge` is PID 1 and gets SIGTERM itself, closing streams and the outbox cleanly.
ENTRYPOINT ["edge"]
CMD ["run", "--config", "/config/edge.yaml"]
