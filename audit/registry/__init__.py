"""The embedded registry of models and datasets (SQLite or PostgreSQL + content-addressed store)."""

from .store import METADATA_FIELDS, REGISTRY_SCHEMA, Artifact, Registry, default_home

__all__ = ["METADATA_FIELDS", "REGISTRY_SCHEMA", "Artifact", "Registry", "default_home"]
