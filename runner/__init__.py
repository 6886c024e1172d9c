"""Flywheel: declarative, GitOps-style eval/CI for LLM applications."""

__version__ = "0.1.0"
"""The one place the version is set (RELEASING.md): the package metadata, `flywheel --version`, result provenance
and the action tag `flywheel init` writes are all read from it."""
