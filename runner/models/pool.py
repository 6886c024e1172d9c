"""One client per endpoint for a command's lifetime, created from `Model` specs by provider; the local
provider starts (and finally stops) the embedded model's server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from runner.errors import FlywheelError
from runner.models.client import OpenAIChatClient
from runner.models.local import LocalServers
from runner.models.resolve import ResolvedModel
from runner.models.types import ChatClient


class MissingKeyError(FlywheelError):
    """A Model needs an API key that is not in the environment."""


class ClientPool:
    """Clients keyed by endpoint. Use as an async context manager: closing stops local servers too."""

    def __init__(self, state_dir: Path) -> None:
        self._clients: dict[str, ChatClient] = {}
        self._servers = LocalServers(state_dir / "logs")
        self._lock = asyncio.Lock()

    async def client(self, model: ResolvedModel) -> ChatClient:
        """The client for `model.endpoint`, created on first use."""
        async with self._lock:
            found = self._clients.get(model.endpoint)
            if found is not None:
                return found
            spec = model.spec
            if spec.provider == "local":
                server = await asyncio.to_thread(self._servers.get, model.adapter)
                client: ChatClient = OpenAIChatClient(server.base_url, "local", spec.limits)
            else:
                env = spec.key_env
                key = os.environ.get(env, "") if env else "unused"
                if env and not key:
                    raise MissingKeyError(
                        f"Model '{model.ref}' needs the environment variable {env}; set it, or run offline with "
                        "--replay DIR or a provider: local model"
                    )
                client = OpenAIChatClient(spec.base_url, key, spec.limits)
            self._clients[model.endpoint] = client
            return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await asyncio.to_thread(self._servers.close)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
