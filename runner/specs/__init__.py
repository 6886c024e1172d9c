"""The spec language: pydantic models for every kind, and the loader that validates a spec tree."""
