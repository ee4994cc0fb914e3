# Ponos-py: one image for the aggregator, the executor, the example performer and the devnet
# (chain and deployment, for docker-compose.yml).
#
#   docker build -t ponos .          # from the package index, on the official Python image
#                                    # (after `make bootstrap`: anvil comes from node_modules)
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

# -- the devnet's chain: anvil from the project's node_modules (`make bootstrap` / `npm ci`, for
# this machine's architecture) and the compiled contracts, for `ponos devnet chain` / `deploy` --
FROM ${BASE_IMAGE} AS devnet
COPY node_modules/@foundry-rs/ /tmp/foundry/
COPY contracts/artifacts/ /out/contracts/
RUN install -D -m 0755 /tmp/foundry/anvil-linux-*/bin/anvil /out/anvil \
 && /out/anvil --version

# -- the image ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# The data directories exist in the image, owned by ponos: a named volume mounted on one of
# them starts with that ownership (Docker Compose mounts one per service).
RUN groupadd --system --gid 10001 ponos \
 && useradd --system --uid 10001 --gid ponos --home-dir /var/lib/ponos --create-home \
        --shell /usr/sbin/nologin ponos \
 && install -d -o ponos -g ponos -m 0750 \
        /var/lib/ponos/aggregator /var/lib/ponos/executor /var/lib/ponos/devnet
COPY --from=devnet /out/anvil /usr/local/bin/anvil
COPY --from=devnet /out/contracts/ /opt/ponos-contracts/
COPY --from=deps /opt/ponos /opt/ponos
COPY --from=wheel /dist/ /tmp/dist/
RUN /opt/ponos/bin/pip install --quiet --no-index --no-deps /tmp/dist/*.whl \
 && rm -rf /tmp/dist
ENV PATH=/opt/ponos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PONOS_ANVIL_BIN=/usr/local/bin/anvil \
    PONOS_CONTRACTS_DIR=/opt/ponos-contracts
USER ponos
WORKDIR /var/lib/ponos
# RocksDB data, keystores and state of the services.
VOLUME ["/var/lib/ponos"]
# 9090: executor gRPC; 8080: aggregator ops HTTP, or a performer's gRPC; 8081: executor ops HTTP.
EXPOSE 9090 8080 8081
ENTRYPOINT ["ponos"]
CMD ["--help"]
