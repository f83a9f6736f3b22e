"""The model registry: models, their immutable versions, lineage and ownership."""
