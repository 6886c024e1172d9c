"""Test doubles shipped with Flywheel: an in-process OpenAI-compatible fake server."""
