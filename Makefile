# The two commands of the README, and the steps they are made of.
.PHONY: setup demo test lint typecheck pytest stop

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
	.venv/bin/mypy app chain tests benchmarks

pytest:
	scripts/install-prometheus || echo "no Prometheus: tests/integration/test_prometheus.py will skip"
	.venv/bin/python -m pytest -q
