"""Flywheel: declarative, GitOps-style eval/CI for LLM applications."""

__version__ = "0.1.0"
