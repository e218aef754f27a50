"""The package version: defined here only (setup.cfg reads it with ``attr:``)."""

version = "1.0.0.dev0"
