"""URL converters for names that may hold '/' (a nested collection's slug, a branch such as
``cms/posts/premier``), some of them in front of a sub-resource (the older
``.../entries/{slug}/history``, ``/diff``, ``/restore``; ``/branches/{name}/publish`` and
``/schedule``).

With werkzeug's ``path`` converter, ``PUT .../entries/accueil/diff`` matched the entry itself
(slug ``accueil/diff``) and ``OPTIONS .../branches/x/publish`` answered the branch's methods too.
These converters never end in a sub-resource's name, so such a URL reaches the sub-resource
only, and a method it does not take is a 405 with its own ``Allow``.

An entry whose slug is empty (Decap writes ``redirects/.json`` when an entry's slug field is
empty) is addressed as ``.empty``: no listed slug can be that, since files whose name starts
with a dot are not entries.
"""

from __future__ import annotations

from werkzeug.routing import PathConverter

SUB_RESOURCES = ("history", "diff", "restore")
BRANCH_SUB_RESOURCES = ("publish", "schedule")


EMPTY_SLUG = ".empty"


class ResourcePath(PathConverter):
    """A name with '/' that never ends in a sub-resource's name (a branch, an entry's slug)."""

    regex = r"[^/](?:(?!/(?:" + "|".join(SUB_RESOURCES) + r")$).)*"
    part_isolating = False


class BranchPath(PathConverter):
    """A branch's name (with '/') that never ends in a branch sub-resource's name."""

    regex = r"[^/](?:(?!/(?:" + "|".join(BRANCH_SUB_RESOURCES) + r")$).)*"
    part_isolating = False


class _Slugs:
    """An entry's slug in a URL: ``.empty`` for the empty slug."""

    def to_python(self, value: str) -> str:
        return "" if value == EMPTY_SLUG else value

    def to_url(self, value: str) -> str:
        return EMPTY_SLUG if value == "" else PathConverter.to_url(self, value)  # type: ignore[arg-type]


class EntryPath(_Slugs, ResourcePath):
    """The slug of ``.../entries/<slug>``."""


class SlugPath(_Slugs, PathConverter):
    """The slug of a sub-resource: ``.../history/<slug>`` (and the older
    ``.../entries/<slug>/history``)."""


CONVERTERS = {
    "resource": ResourcePath,
    "branch": BranchPath,
    "entry": EntryPath,
    "slug": SlugPath,
}
