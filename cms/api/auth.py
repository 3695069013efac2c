"""Who is calling: the bearer token of the request, and the role a request needs."""

from __future__ import annotations

from flask import current_app, g, request

from cms.auth import Token, TokenStore
from cms.errors import Forbidden, Unauthorized


def tokens() -> TokenStore:
    return current_app.extensions["cms.tokens"]


def current_token() -> Token | None:
    """The request's token; a malformed or unknown one is a 401, not an anonymous call."""
    if "cms_token" in g:
        return g.cms_token
    header = request.headers.get("Authorization")
    token = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use `Authorization: Bearer <token>`")
        token = tokens().check(value.strip())
        if token is None:
            raise Unauthorized("this token is not valid (revoked, or never issued)")
    g.cms_token = token
    return token


def require(role: str) -> Token:
    token = current_token()
    if token is None:
        raise Unauthorized(f"this needs a token with the {role} role")
    if not token.allows(role):
        raise Forbidden(f"this needs the {role} role; the token has {token.role}")
    return token
