"""OpenAPI descriptions of the query parameters that the hot read views take from
``request.args`` themselves (``@blp.arguments`` costs more than the rest of such a request)."""

from __future__ import annotations

from typing import Any


# An `example` is what Swagger UI's "Try it out" fills in: only values that answer 200 on any
# collection have one; the others are shown in the description.
def query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"in": "query", "name": name, "description": description, "schema": schema, **extra}


REF = query(
    "ref",
    "A branch, a tag or a commit sha (short or full), `HEAD` (the published branch), each "
    "optionally followed by `~N` or `^N` as in git (`main~3`, `v1.0^`). Default: the "
    "published branch. A full sha makes the answer immutable (`Cache-Control: immutable`).",
    {"type": "string"},
    example="main",
)
PAGE = query(
    "page",
    "Page number, from 1.",
    {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
)
PAGE_SIZE = query(
    "page_size",
    "Entries per page.",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
)
SORT = query(
    "sort",
    "Comma-separated fields, `-` for descending: `-date,title`. Dotted names reach into "
    "objects; `slug` and `path` work too. Entries without the field come last.",
    {"type": "string"},
)
FILTER = query(
    "filter",
    "`filter[<field>]=<value>` or `filter[<field>][<op>]=<value>`, op in "
    "`eq ne lt lte gt gte in contains exists`. Dotted names reach into objects "
    "(`filter[hero.title]`); `in` takes a comma list; `contains` matches list items, or text "
    "ignoring case and accents; dates and numbers compare as dates and numbers. Example: "
    "`filter[tags][contains]=intérêt`.",
    {"type": "object", "additionalProperties": {"type": "string"}},
    style="deepObject",
    explode=True,
)
FIELDS = query(
    "fields",
    "Comma-separated fields to return in `fields` (dotted names for nested ones): `title,date`.",
    {"type": "string"},
)
INCLUDE = query(
    "include",
    "Comma-separated relation fields to expand into `included`: `talents.list`.",
    {"type": "string"},
)
Q = query(
    "q",
    "Full-text search: only the entries whose title, text fields or body hold every word "
    "(as a prefix; case and accents do not matter), best first unless `sort` is given.",
    {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"},
    example="perennisation",
)
COLLECTION = query(
    "collection",
    "Search only these collections (comma-separated, or the parameter repeated).",
    {"type": "string"},
    example="pages",
)
BODY = query("body", "Include each entry's `body`.", {"type": "boolean", "default": False})
RENDER = query(
    "render",
    "`html` adds `html`: the body rendered from Markdown to sanitized HTML.",
    {"type": "string", "enum": ["html"]},
)
BRANCH = query(
    "branch",
    "The branch to commit to (a draft: `cms/actualites/nouvelle-promotion`). Default: the "
    "published branch.",
    {"type": "string"},
)
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": "The entry's version (its ETag) that the change is based on.",
    "schema": {"type": "string"},
}
MESSAGE = query("message", "The commit message.", {"type": "string"})
LOCALE = query(
    "locale",
    "With Decap's i18n: the locale to read or write (default: the collection's default "
    "locale), such as `en`. Fields the model does not translate come from the default "
    "locale.",
    {"type": "string"},
)
