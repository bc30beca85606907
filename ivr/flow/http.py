"""HTTP for `http` nodes: the client protocol, the aiohttp implementation, and reply lookup.

The interpreter only needs "send this JSON, give me the status and the decoded reply", so
`HttpClient` is that one method; tests and the simulator pass their own. Every way a request can
fail (timeout, refused connection, a reply that is not JSON) surfaces as `HttpError`, so the
interpreter has one thing to catch before it takes the node's fallback. A status >= 400 is not
an exception here: the reply is returned (body not decoded) and the interpreter decides.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from typing import Any, Protocol

import aiohttp

from .expr import Value


class HttpError(Exception):
    """The request did not produce a usable reply: timeout, connection, or bad JSON.

    `transient`: worth retrying (timeout, connection); a reply that is not JSON is not.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class HttpClient(Protocol):
    async def request(self, method: str, url: str, json: Any, timeout: float) -> tuple[int, Any]:
        """Send `json` (None: no body); the status and the decoded JSON reply (None if empty).

        Raises HttpError on timeout, connection failure or an undecodable 2xx/3xx reply.
        """
        ...


class AiohttpClient:
    """One ClientSession shared by every call (connection pooling, one DNS cache).

    The session is created on first use, inside the running loop, and closed by `close()`.
    """

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Accept": "application/json", "User-Agent": "ivr"})
        return self._session

    async def request(self, method: str, url: str, json: Any, timeout: float) -> tuple[int, Any]:
        session = self._get_session()
        try:
            async with session.request(
                method, url, json=json, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            raise HttpError(f"timeout after {timeout:g}s") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise HttpError(f"connection failed: {type(exc).__name__}: {exc}") from None
        if status >= 400 or not body.strip():
            return status, None
        try:
            return status, jsonlib.loads(body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise HttpError(f"status {status} but the reply is not JSON",
                            transient=False) from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)  # let aiohttp release the connector's transports


class UnavailableHttp:
    """The default client: every request fails, so http nodes take their fallback.

    Used where nobody configured HTTP (unit tests of other nodes); failing is safer than
    silently reaching the network from a test.
    """

    async def request(self, method: str, url: str, json: Any, timeout: float) -> tuple[int, Any]:
        raise HttpError("no HTTP client is configured")


class PathError(LookupError):
    """A results path does not lead to a value in the reply."""


def lookup(data: Any, path: str) -> Value:
    """Follow a dotted path ('data.accounts.0.balance') into decoded JSON; a scalar or PathError.

    Digits index lists. An object or list at the end is refused: flow variables hold values.
    """
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                raise PathError(f"{path!r}: index {index} out of range")
            current = current[index]
        else:
            raise PathError(f"{path!r}: no {part!r} in the reply")
    if isinstance(current, dict | list):
        raise PathError(f"{path!r} is an {'object' if isinstance(current, dict) else 'array'}, "
                        "not a value")
    if current is None or isinstance(current, str | int | float | bool):
        return current
    raise PathError(f"{path!r}: unexpected {type(current).__name__}")
