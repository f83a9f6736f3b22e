# The modelgov node image: the pinned CometBFT engine, the modelgov app, CLI and weights server.
# `make docker-testnet` builds it (chain/ops/dockernet.py); `modelgov testnet init --docker`
# writes the compose files that run it.
#
# Three base images, all Debian bookworm, chosen by build arguments:
#   GO_IMAGE      builds the engine from its Go module (needs the Go module proxy)
#   BUILD_IMAGE   installs the Python dependencies (needs a package index) and generates protobuf
#   PYTHON_IMAGE  runs the node; BUILD_IMAGE must have the same Python at the same path
# By default they are the registries' golang and python images. Where no image registry answers,
# `python -m chain.ops.dockernet up` makes local ones with debootstrap instead (README, Docker):
# the same steps run, offline, against a Go module proxy and a wheel house kept in those images.
# Only classic-builder instructions are used (no RUN --mount): it works without BuildKit.
# Every stage is labelled org.modelgov.stage, so replaced stage images can be pruned by label.

ARG GO_IMAGE=golang:1.23-bookworm
ARG BUILD_IMAGE=python:3.11-slim-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage "engine": `go install` of the pinned engine (chain/engine/version.py), static; then the two
# Go modules whose .proto files protogen reads, with the go command alone, for stage "build".
FROM ${GO_IMAGE} AS engine
LABEL org.modelgov.stage=engine
ENV GOFLAGS=-buildvcs=false CGO_ENABLED=0
RUN go install github.com/cometbft/cometbft/cmd/cometbft@v0.38.26
RUN GOMODCACHE=/protos/mod go mod download -json \
        github.com/cometbft/cometbft@v0.38.26 github.com/cosmos/gogoproto@v1.7.0 >/dev/null \
    && mkdir -p /protos/go/bin \
    && cp "$(go env GOROOT)/bin/go" /protos/go/bin/ \
    && cp "$(go env GOROOT)/VERSION" "$(go env GOROOT)/go.env" /protos/go/

# Stage "build": scripts/setup's steps in two venvs. /opt/tools gets the dev extra and runs
# protogen (offline, from stage engine's module cache); /opt/venv gets the package itself, with
# the generated app/pb, and only its runtime dependencies. Dependencies first, in a layer that
# changes only with pyproject.toml.
FROM ${BUILD_IMAGE} AS build
LABEL org.modelgov.stage=build
ENV PIP_NO_CACHE_DIR=1
WORKDIR /opt/modelgov
COPY pyproject.toml ./
RUN mkdir app chain && touch README.md app/__init__.py chain/__init__.py \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --quiet --disable-pip-version-check . \
    && /opt/venv/bin/python -m pip uninstall --quiet --yes modelgov \
    && python3 -m venv /opt/tools \
    && /opt/tools/bin/python -m pip install --quiet --disable-pip-version-check ".[dev]" \
    && /opt/tools/bin/python -m pip uninstall --quiet --yes modelgov \
    && rm -rf README.md app chain build ./*.egg-info
COPY --from=engine /protos/go /usr/local/go
COPY --from=engine /protos/mod /go/pkg/mod
COPY README.md ./
COPY app app
COPY chain chain
RUN PATH=/usr/local/go/bin:$PATH GOROOT=/usr/local/go GOMODCACHE=/go/pkg/mod GOPROXY=off \
        GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local /opt/tools/bin/python -m chain.engine.protogen \
    && /opt/venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps .

# Stage "node": the runtime, as user modelgov (uid 10001); a node's home is the volume at /data.
FROM ${PYTHON_IMAGE} AS node
LABEL org.modelgov.stage=node
RUN useradd --system --uid 10001 --user-group --create-home modelgov \
    && mkdir /data && chown modelgov:modelgov /data
COPY --from=engine /go/bin/cometbft /usr/local/bin/cometbft
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    MODELGOV_COMETBFT=/usr/local/bin/cometbft \
    PYTHONUNBUFFERED=1
RUN cometbft version && python -c "import app.pb.tendermint.abci.types_pb2" && modelgov --help
USER modelgov
WORKDIR /data
CMD ["modelgov", "--help"]
