"""Typed ARI errors, so callers can tell a vanished channel from a broken server."""

from __future__ import annotations


class AriError(Exception):
    """Base of everything the ARI client raises."""


class AriConnectionError(AriError):
    """Asterisk could not be reached at all (refused, reset, timed out)."""


class AriHttpError(AriError):
    """Asterisk answered a REST request with an error status."""

    status: int = 0

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        super().__init__(f"{method} {path}: {status} {message}".rstrip())


class BadRequest(AriHttpError):
    """400: a parameter was missing or malformed; a bug on our side."""


class Unauthorized(AriHttpError):
    """401/403: the ARI credentials in the configuration are wrong."""


class ResourceGone(AriHttpError):
    """404: the channel, bridge, playback or recording no longer exists (often: caller hung up)."""


class NotInStasis(AriHttpError):
    """409: the channel exists but is not (or no longer) in a Stasis application, or a conflict."""


class Unprocessable(AriHttpError):
    """422: the request was understood but cannot apply (e.g. media not found, bad endpoint)."""


class ServerError(AriHttpError):
    """5xx: Asterisk failed internally."""


class ServiceUnavailable(ServerError):
    """503: Asterisk is up but cannot serve this request now."""


def error_for_status(status: int, method: str, path: str, message: str) -> AriHttpError:
    """Map an HTTP status to the most specific error class."""
    cls: type[AriHttpError]
    if status == 400:
        cls = BadRequest
    elif status in (401, 403):
        cls = Unauthorized
    elif status == 404:
        cls = ResourceGone
    elif status == 409:
        cls = NotInStasis
    elif status == 422:
        cls = Unprocessable
    elif status == 503:
        cls = ServiceUnavailable
    elif status >= 500:
        cls = ServerError
    else:
        cls = AriHttpError
    err = cls(status, method, path, message)
    err.status = status
    return err
