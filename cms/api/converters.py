"""URL converters for names that may hold '/' (a nested collection's slug, a branch such as
``cms/posts/premier``) in front of a sub-resource (``/history``, ``/diff``, ``/restore``,
``/publish``).

With werkzeug's ``path`` converter, ``PUT .../entries/accueil/diff`` matched the entry itself
(slug ``accueil/diff``) and ``OPTIONS .../branches/x/publish`` answered the branch's methods too.
These converters never end in a sub-resource's name, so such a URL reaches the sub-resource
only, and a method it does not take is a 405 with its own ``Allow``.
"""

from __future__ import annotations

from werkzeug.routing import PathConverter

SUB_RESOURCES = ("history", "diff", "restore", "publish")


class ResourcePath(PathConverter):
    regex = r"[^/](?:(?!/(?:" + "|".join(SUB_RESOURCES) + r")$).)*"
    part_isolating = False


CONVERTERS = {"resource": ResourcePath}
