"""audit: check a machine-learning model before it is deployed, and leave evidence an auditor can trust."""

__version__ = "0.1.0"
