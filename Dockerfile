# monitor: the background service (`monitor run`) in a container.
# Build and run with docker compose (see docker-compose.yml), or:
#   docker build -t monitor . && docker run -v "$PWD/data:/data" -v "$PWD/feeds.yaml:/config/feeds.yaml:ro" \
#     -v "$PWD/seeds:/config/seeds:ro" monitor
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A plain install of the package (no venv needed inside the image). EXTRAS=postgres adds the
# PostgreSQL backend and job queue (docker-compose.yml's `scale` profile builds it so).
ARG EXTRAS=""
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --upgrade pip && pip install . && if [ -n "$EXTRAS" ]; then pip install ".[$EXTRAS]"; fi \
    && rm -rf /build

# Run as an unprivileged user. The database lives on the /data volume; file digests go to
# /app/digests (feeds.yaml: `dir: /app/digests`; docker-compose.yml mounts it from ./digests).
RUN useradd --create-home --uid 1000 --user-group monitor \
    && mkdir -p /app/digests /data /config \
    && chown monitor:monitor /app /app/digests /data
WORKDIR /app
VOLUME /data

ENV MONITOR_DB=/data/monitor.db \
    MONITOR_FEEDS=/config/feeds.yaml \
    MONITOR_SEEDS=/config/seeds

USER monitor
# `monitor run` stops cleanly on SIGTERM (docker stop) within 10 s.
STOPSIGNAL SIGTERM
CMD ["monitor", "run"]
