"""Checking ref names before git sees them: an allow-list, never revision syntax."""

from __future__ import annotations

import re

from cms.errors import BadRequest

FULL_SHA = re.compile(r"[0-9a-f]{40}")
SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,40}")
# The rules of `git check-ref-format` for one branch or tag name, written as one pattern:
# no control characters, space, ~ ^ : ? * [ \ or DEL; no "..", "@{", "//", leading or trailing
# "/" or "."; no component starting with "." or ending with ".lock"; not "@". A leading "-" is
# refused too: git allows it, but it would read as an option on a command line.
_FORBIDDEN = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|^[/-]|/$|\.$|^\.|/\.|\.lock(?:/|$)")


def valid_ref_name(name: str) -> bool:
    return bool(name) and name != "@" and len(name) <= 255 and not _FORBIDDEN.search(name)


def check_ref(ref: str) -> str:
    """A ref as given by a client, if it is a well-formed branch, tag or sha; else BadRequest."""
    if not valid_ref_name(ref):
        raise BadRequest(f"{ref!r} is not a valid branch, tag or commit name", {"ref": ref})
    return ref


# Names git gives a meaning of its own: a branch called so would shadow it or be shadowed.
_SPECIAL = re.compile(r"[A-Z_]*HEAD|refs/.*|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


def check_branch_name(name: str) -> str:
    """A name for a new branch: a valid ref name that git does not read as something else
    (``HEAD``, ``FETCH_HEAD``, ``refs/heads/x``, or a full commit sha, which would shadow that
    commit); else BadRequest."""
    check_ref(name)
    if _SPECIAL.fullmatch(name):
        raise BadRequest(
            f"{name!r} cannot be a branch name: git reads it as a special ref, a full ref "
            "name or a commit sha",
            {"name": name},
        )
    return name
