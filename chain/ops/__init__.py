"""Operating nodes: status reports, Prometheus and Grafana files, the docker compose testnet."""
