# Ponos-py: one image for the aggregator, the executor and the example performer.
#
#   docker build -t ponos .          # from the package index, on the official Python image
#   make images                      # offline: local Debian base, wheels from wheelhouse/
#
# Works with BuildKit and with the legacy builder (DOCKER_BUILDKIT=0).

# Any image with Python 3.11+ and `python3 -m venv` (the offline build passes a Debian bookworm
# base made by debootstrap: tools/docker_engine.py).
ARG BASE_IMAGE=python:3.11-slim

# -- dependencies: their own layer, rebuilt only when pyproject.toml or the wheelhouse changes --
FROM ${BASE_IMAGE} AS deps
# 1 = install only from the wheels in wheelhouse/ (no network); 0 = from the package index.
ARG PONOS_PIP_OFFLINE=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY wheelhouse/ /wheelhouse/
COPY pyproject.toml /src/
RUN python3 -m venv /opt/ponos \
 && python3 -c "import tomllib; deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > /tmp/requirements.txt \
 && if [ "$PONOS_PIP_OFFLINE" = 1 ]; then set -- --no-index --find-links /wheelhouse; fi \
 && /opt/ponos/bin/pip install --quiet "$@" -r /tmp/requirements.txt

# -- the ponos wheel (the build generates the gRPC modules from protos/) -----------------------
FROM deps AS wheel
ARG PONOS_PIP_OFFLINE=0
COPY setup.py README.md /src/
COPY tools/gen_protos.py /src/tools/
COPY protos/ /src/protos/
COPY ponos/ /src/ponos/
RUN if [ "$PONOS_PIP_OFFLINE" = 1 ]; then set -- --no-index --find-links /wheelhouse; fi \
 && /opt/ponos/bin/pip wheel --quiet "$@" --no-deps --wheel-dir /dist /src

# -- the image ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 ponos \
 && useradd --system --uid 10001 --gid ponos --home-dir /var/lib/ponos --create-home \
        --shell /usr/sbin/nologin ponos
COPY --from=deps /opt/ponos /opt/ponos
COPY --from=wheel /dist/ /tmp/dist/
RUN /opt/ponos/bin/pip install --quiet --no-index --no-deps /tmp/dist/*.whl \
 && rm -rf /tmp/dist
ENV PATH=/opt/ponos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
USER ponos
WORKDIR /var/lib/ponos
# RocksDB data, keystores and state of the services.
VOLUME ["/var/lib/ponos"]
# 9090: executor gRPC; 8080: aggregator ops HTTP, or a performer's gRPC; 8081: executor ops HTTP.
EXPOSE 9090 8080 8081
ENTRYPOINT ["ponos"]
CMD ["--help"]
