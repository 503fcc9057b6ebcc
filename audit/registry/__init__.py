"""The embedded registry of models and datasets (SQLite + content-addressed store)."""

from .store import METADATA_FIELDS, Artifact, Registry, default_home

__all__ = ["METADATA_FIELDS", "Artifact", "Registry", "default_home"]
