"""One client per endpoint for a command's lifetime, created from `Model` specs by provider; the local
provider starts (and finally stops) the embedded model's server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from runner.errors import FlywheelError
from runner.models.client import OpenAIChatClient
from runner.models.local import LocalServers
from runner.models.resolve import ResolvedModel
from runner.models.types import ChatClient


class MissingKeyError(FlywheelError):
    """A Model needs an API key that is not in the environment."""


class UntrustedKeyError(FlywheelError):
    """A Model would send a key to an endpoint the trusted specs do not pair it with (the gate's rule)."""


KeyGuard = Callable[[ResolvedModel], "str | None"]
"""Says why `model` may not receive its key (None: it may)."""


class ClientPool:
    """Clients keyed by endpoint. Use as an async context manager: closing stops local servers too.

    `key_guard`, when given, is asked before a key is read for a Model: the gate passes one that allows only
    the endpoints the base ref pairs each key with."""

    def __init__(self, state_dir: Path, key_guard: KeyGuard | None = None) -> None:
        self._key_guard = key_guard
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
                refusal = self._key_guard(model) if env and self._key_guard else None
                if refusal:
                    raise UntrustedKeyError(refusal)
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
