# syntax=docker/dockerfile:1
# One image for every role of Infrai Video; the command picks the process:
#   python -m api                       the HTTP API (the default command)
#   python -m worker                    a worker (INFRAI_WORKER_ROLES: workflows, poll, rehost, or all)
#   python -m localvendor               the local renderer behind a vendor-style API (demos, no vendor key)
#   python -m storage.ensure_bucket     one-shot: create the S3 bucket if missing
# Everything else is a setting (INFRAI_* environment variables; see docs/settings.md).

# The lock file is compiled for Python 3.11: keep the two in step.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# --require-hashes: every file installed is one the lock file names, byte for byte.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock
# Our code is the project itself, installed from the build context: the image ships exactly the packages
# pyproject.toml lists (the one list), minus what .dockerignore keeps out (tests, SDKs, the dev launcher).
# --no-build-isolation: setuptools comes from the lock file, so the build fetches nothing.
COPY . /src
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation /src


FROM ${PYTHON_IMAGE} AS runtime
# The build's id (e.g. `--build-arg INFRAI_BUILD_ID=$(git rev-parse --short HEAD)`): workers report it on
# every workflow task, and it names the Worker Deployment Version when versioning is on (deploys.md).
ARG INFRAI_BUILD_ID=dev
ENV INFRAI_BUILD_ID=${INFRAI_BUILD_ID} \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INFRAI_DATA_DIR=/var/lib/infrai \
    INFRAI_API_HOST=0.0.0.0 \
    INFRAI_LOCAL_VENDOR_HOST=0.0.0.0 \
    INFRAI_METRICS_HOST=0.0.0.0 \
    INFRAI_LOG_FORMAT=json
RUN groupadd --system --gid 10001 infrai \
    && useradd --system --uid 10001 --gid infrai --home-dir /app --shell /usr/sbin/nologin infrai \
    && mkdir -p /var/lib/infrai \
    && chown infrai:infrai /var/lib/infrai
COPY --from=build /opt/venv /opt/venv
# The venv holds our packages too, owned by root: the service user can read the code but not change it.
WORKDIR /app
USER infrai
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=8s --start-period=30s --retries=3 \
    CMD ["python", "-m", "observability.probe", "api"]
CMD ["python", "-m", "api"]
