# syntax=docker/dockerfile:1
# One image for every role: `serve` (default), `worker`, `executor serve`, `mcp serve NAME`.
#   docker build -t alertpilot .
#   docker run --rm -e ALERTPILOT_WEBHOOK_TOKEN=... -p 8080:8080 alertpilot
#   docker run --rm alertpilot worker
# PYTHON_IMAGE must be a Debian-based image with python3 (>= 3.11) and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---------------------------------------------------------------- deps: the locked dependencies in a venv
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# From the committed hash-pinned lock file only; a stage of its own, so it is rebuilt only
# when the lock changes (deploy/build-image.sh keeps it tagged as the cache).
COPY requirements.lock ./
RUN python3 -m venv /opt/alertpilot \
    && /opt/alertpilot/bin/pip install --require-hashes --no-deps -r requirements.lock

# ---------------------------------------------------------------- build: alertpilot itself
FROM deps AS build
# Without touching the pinned dependencies.
COPY pyproject.toml README.md cli.py cli_common.py ./
COPY agents ./agents
COPY evals ./evals
COPY graph ./graph
COPY prompts ./prompts
COPY server ./server
COPY state ./state
COPY tools ./tools
RUN /opt/alertpilot/bin/pip install --no-deps . \
    && /opt/alertpilot/bin/pip uninstall -y pip \
    && /opt/alertpilot/bin/python -c "import cli, graph.builder, server.app, server.executor_app, tools.mcp"

# ---------------------------------------------------------------- runtime: no compilers, no pip in the venv
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="alertpilot" \
      org.opencontainers.image.description="Incident agent: alert, triage, diagnosis, guarded rollback, briefing" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 alertpilot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/alertpilot --no-create-home \
       --shell /usr/sbin/nologin alertpilot \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/alertpilot
COPY --from=build /opt/alertpilot /opt/alertpilot
ENV PATH=/opt/alertpilot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ALERTPILOT_HOME=/var/lib/alertpilot \
    MPLCONFIGDIR=/tmp/matplotlib \
    ALERTPILOT_HEALTH_PORT=8080
WORKDIR /var/lib/alertpilot
USER 10001:10001
EXPOSE 8080 8780
# serve answers /healthz on 8080, the executor on 8780 (set ALERTPILOT_HEALTH_PORT=8780);
# a worker has no port: its orchestrator disables this check (see deploy/compose.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ALERTPILOT_HEALTH_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["alertpilot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
