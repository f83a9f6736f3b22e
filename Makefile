# The two commands of the README, and the steps they are made of.
.PHONY: setup demo test lint typecheck pytest stop docker-testnet docker-stop docker-clean

setup:
	EXTRAS=torch ./scripts/setup

demo: setup
	.venv/bin/modelgov testnet init --validators 4 --dir testnet --force
	.venv/bin/modelgov testnet start --dir testnet
	.venv/bin/python -m chain.demo --dir testnet

stop:
	.venv/bin/modelgov testnet stop --dir testnet

test: setup lint typecheck pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy app chain tests benchmarks modelgov examples

pytest:
	scripts/install-prometheus || echo "no Prometheus: tests/integration/test_prometheus.py will skip"
	.venv/bin/python -m pytest -q

# The same 4-validator testnet in docker compose (README, Docker): builds the node image (local
# base images where no registry answers), starts the project, shows every node.
docker-testnet: setup
	.venv/bin/python -m chain.ops.dockernet up --dir testnet
	.venv/bin/modelgov node status --dir testnet

# Stops it; the chain stays in its volumes for the next `make docker-testnet`.
docker-stop:
	.venv/bin/python -m chain.ops.dockernet down --dir testnet

# Stops it and drops its volumes (the chain).
docker-clean:
	.venv/bin/python -m chain.ops.dockernet down --volumes --dir testnet
