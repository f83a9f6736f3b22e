# syntax=docker/dockerfile:1
# The modelgov node image: the pinned CometBFT engine, the modelgov app, CLI and weights server.
# `modelgov testnet init --docker` writes a docker-compose.yml that builds and runs it.
#
# Stage "engine" builds CometBFT from its Go module at the version chain/engine/version.py pins
# (as chain/engine/install.py does) and downloads the Go modules whose .proto files protogen
# reads. Stage "node" installs modelgov with scripts/setup's steps, minus the venv, and generates
# the protobuf classes with the Go toolchain and module cache of stage "engine" mounted (offline).

FROM golang:1.23-bookworm AS engine
ENV GOFLAGS=-buildvcs=false
RUN go install github.com/cometbft/cometbft/cmd/cometbft@v0.38.26
RUN go mod download github.com/cometbft/cometbft@v0.38.26 github.com/cosmos/gogoproto@v1.7.0

FROM python:3.11-slim-bookworm AS node
RUN useradd --system --uid 10001 --create-home modelgov \
    && mkdir /data && chown modelgov:modelgov /data
COPY --from=engine /go/bin/cometbft /usr/local/bin/cometbft
ENV MODELGOV_COMETBFT=/usr/local/bin/cometbft \
    PYTHONUNBUFFERED=1
WORKDIR /opt/modelgov
COPY . .
RUN python -m pip install --quiet --disable-pip-version-check --no-cache-dir -e ".[dev]"
RUN --mount=type=bind,from=engine,source=/usr/local/go,target=/usr/local/go \
    --mount=type=bind,from=engine,source=/go/pkg/mod,target=/go/pkg/mod,rw \
    PATH=/usr/local/go/bin:$PATH GOMODCACHE=/go/pkg/mod GOPROXY=off GOFLAGS=-mod=mod \
    python -m chain.engine.protogen
RUN cometbft version && python -c "import app.pb.tendermint.abci.types_pb2" && modelgov --help
USER modelgov
CMD ["modelgov", "--help"]
