"""REST half of the ARI client: one aiohttp session, JSON in and out, typed errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from .errors import AriConnectionError, error_for_status

log = logging.getLogger(__name__)

Params = Mapping[str, str | int | float | bool | None]


def _query(params: Params | None) -> dict[str, str]:
    """ARI wants booleans as 'true'/'false' and no empty parameters."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


class RestTransport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout: float,
    ) -> None:
        self._session = session
        self._api = base_url.rstrip("/") + "/ari"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; return decoded JSON (None for an empty body) or raise AriError."""
        raw = await self.request_bytes(method, path, params=params, body=body)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bytes:
        url = self._api + path
        try:
            async with self._session.request(
                method,
                url,
                params=_query(params),
                json=dict(body) if body is not None else None,
                timeout=self._timeout,
            ) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    raise error_for_status(resp.status, method, path, _message(payload))
                return payload
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise AriConnectionError(f"{method} {path}: {exc or type(exc).__name__}") from exc


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")[:200]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data)
    return str(data)
