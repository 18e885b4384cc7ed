# syntax=docker/dockerfile:1
# One image for the API and every job: the entrypoint is `recsys`, the command picks the job.
#   docker build -t recsys:latest .
#   docker run recsys:latest db upgrade            (any `recsys` subcommand)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- builder: the project installed (not editable) into a self-contained venv -------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY recsys ./recsys
COPY api ./api
COPY monitoring ./monitoring
RUN pip install --no-deps .

# The code finds feature_repo/ and migrations/ next to its packages (recsys.config.PROJECT_ROOT is
# the directory holding `recsys/`), which for an installed package is site-packages.
COPY feature_repo /tmp/project/feature_repo
COPY migrations /tmp/project/migrations
RUN site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
 && cp -r /tmp/project/feature_repo /tmp/project/migrations "$site"/ \
 && python -c "from recsys.config import PROJECT_ROOT, Settings; \
assert (PROJECT_ROOT / 'migrations' / 'alembic.ini').is_file(), PROJECT_ROOT; \
assert (Settings().feature_repo / 'feature_store.yaml').is_file(), Settings().feature_repo"

# -- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# LightGBM's wheel links the system OpenMP runtime, which the slim image lacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric UID/GID, so Kubernetes' runAsNonRoot can verify it and volumes can be chowned.
RUN groupadd --gid 10001 recsys \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin recsys \
 && mkdir -p /data /app \
 && chown 10001:10001 /data
COPY --from=builder /opt/venv /opt/venv

# RECSYS_DATA_DIR holds model artifacts and reports: mount a volume shared by the API and the jobs.
# HOME=/tmp keeps libraries' caches writable under a read-only root filesystem; Feast and
# Evidently telemetry are off (no calls out of the cluster).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    RECSYS_DATA_DIR=/data \
    FEAST_USAGE=False \
    DO_NOT_TRACK=1
# Settings also read `.env` from the working directory: /app stays empty, so only env vars count.
WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness only (the process answers); readiness (/readyz) is for the orchestrator's routing.
# python:slim has no curl, so the check is a one-line urllib request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Exec form: `recsys` is PID 1 and gets SIGTERM itself, which starts the API's drain.
ENTRYPOINT ["recsys"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
