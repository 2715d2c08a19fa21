# aadsts-enricher container image: the daemon as a non-root user on a slim CPython.
#
#   docker build -t aadsts-enricher .                        # BASE: any Debian-based CPython >= 3.11
#   docker run --rm -p 9464:9464 aadsts-enricher demo --listen 0.0.0.0:9464
#
# Runs with a read-only root filesystem: state lives only in the volume /var/lib/aadsts-enricher
# (SQLite state.db), and TMPDIR is /tmp, which must then be a tmpfs (`--tmpfs /tmp`; podman adds
# one by itself with --read-only). Only `demo` and `simulate` write temporary files there.
# Details: docs/container.md.
ARG BASE=python:3.11-slim

# ---- build: a wheel of the project, installed with its dependencies into /opt/venv ----------------
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies first, as their own layer: rebuilt only when pyproject.toml or the pins change.
# constraints.txt pins every runtime package to the tested (and audited) version, pip included.
COPY pyproject.toml README.md constraints.txt ./
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint constraints.txt --upgrade pip \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --constraint constraints.txt --requirement /tmp/requirements.txt
COPY enricher ./enricher
COPY connectors ./connectors
COPY knowledge ./knowledge
# Then the project's own wheel; `--version` fails the build when the wheel misses a module.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps /wheels/aadsts_enricher-*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && /opt/venv/bin/aadsts-enricher --version

# ---- runtime: the venv only; no compiler, no pip, no source tree --------------------------------
FROM ${BASE}
LABEL org.opencontainers.image.title="aadsts-enricher" \
      org.opencontainers.image.description="Explains Microsoft Entra sign-in failures (AADSTS codes) in Power BI, Fabric, ADF and Synapse runs, and alerts." \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp
RUN groupadd --gid 10001 aadsts \
 && useradd --uid 10001 --gid aadsts --no-create-home --home-dir /var/lib/aadsts-enricher \
      --shell /usr/sbin/nologin aadsts \
 && mkdir -p /var/lib/aadsts-enricher /etc/aadsts-enricher \
 && chown 10001:10001 /var/lib/aadsts-enricher \
 && chmod 0750 /var/lib/aadsts-enricher
COPY --from=build /opt/venv /opt/venv
# The base image's own pip (not used by the service, but scanners read it) at the pinned release;
# a pip the distribution manages (Debian's python3-pip: EXTERNALLY-MANAGED) is left to its updates.
COPY constraints.txt /tmp/constraints.txt
RUN if python3 -m pip --version >/dev/null 2>&1 \
      && python3 -c "import pathlib, sys, sysconfig; sys.exit(pathlib.Path(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED').exists())"; then \
      PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --constraint /tmp/constraints.txt --upgrade pip; \
    fi \
 && rm /tmp/constraints.txt
COPY config/container.yaml /etc/aadsts-enricher/config.yaml
USER 10001:10001
WORKDIR /var/lib/aadsts-enricher
VOLUME ["/var/lib/aadsts-enricher"]
EXPOSE 9464
# `run` and `demo` both stop cleanly on SIGTERM (docker stop) and SIGINT.
# The health target follows health.listen of config/container.yaml (and `demo --listen 0.0.0.0:9464`);
# for another port set AADSTS_ENRICHER_HEALTH_URL. Kubernetes uses its own probes on /healthz and /readyz.
ENV AADSTS_ENRICHER_HEALTH_URL=http://127.0.0.1:9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["aadsts-enricher", "health"]
ENTRYPOINT ["aadsts-enricher"]
CMD ["run", "--config", "/etc/aadsts-enricher/config.yaml"]
