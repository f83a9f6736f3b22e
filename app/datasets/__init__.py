"""Datasets: licensed assets in the models' id namespace, and the terms that follow lineage."""
