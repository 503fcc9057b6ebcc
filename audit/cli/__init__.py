"""The `audit` command line (entry point ``audit = "audit.cli:main"``): one module per command
group, the root group and error handling in :mod:`audit.cli.app`."""

from .app import cli, main

__all__ = ["cli", "main"]
