"""Talking to models: request/response types, the OpenAI-compatible client, the embedded local server."""
