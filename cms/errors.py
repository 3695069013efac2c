"""The errors the domain raises. Pure Python: the API turns each into the one JSON error shape.

Every error carries an HTTP status as a class attribute so that the API layer needs no table
of its own, and an optional ``errors`` mapping with details (for example the bad fields).
"""

from __future__ import annotations

from typing import Any, ClassVar


class CMSError(Exception):
    """Base of every error the CMS raises on purpose."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class BadRequest(CMSError):
    """The request's parameters are malformed (a bad page number, an unknown sort field...)."""

    status = 400


class NotFound(CMSError):
    """No such collection, entry or ref."""

    status = 404


class Unprocessable(CMSError):
    """The request is well formed but its content breaks the model."""

    status = 422


class ConfigError(CMSError):
    """The Decap config cannot be loaded. The message names the file, the line and the problem."""

    status = 500

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class RepositoryError(CMSError):
    """The content repository is missing or unusable."""

    status = 503


class Unauthorized(CMSError):
    """No valid bearer token where one is needed."""

    status = 401


class Forbidden(CMSError):
    """The token's role does not allow this."""

    status = 403


class MethodNotAllowed(CMSError):
    """The collection does not allow this (creating or deleting in a file collection...)."""

    status = 405


class Conflict(CMSError):
    """The request clashes with the repository's state (an existing slug...)."""

    status = 409


class PreconditionFailed(CMSError):
    """``If-Match`` names a version that is not the current one: someone changed the entry."""

    status = 412


class UnsupportedMediaType(CMSError):
    """A request body that is not JSON."""

    status = 415


class PreconditionRequired(CMSError):
    """A change to an existing entry needs ``If-Match`` with the version it was based on."""

    status = 428
