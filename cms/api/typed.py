"""The OpenAPI document typed by the site's own model, at a commit.

The document that flask-smorest builds describes every collection at once: an entry's
``fields`` is any object. The one served at ``/api/v1/openapi.json`` adds, for the model at the
requested ``ref`` (the published branch by default):

* ``components.schemas``: ``<Collection>Fields`` (every field typed from its widget, ``required``
  as the model says, relations marked ``x-relation``) and ``<Collection>Entry`` (an entry whose
  ``fields`` is that schema and whose ``collection`` is the collection's name); for a files
  collection, one pair per file (``PagesAccueilFields``...). A list's entries are
  ``<Collection>ListedEntry``: the same with every field optional, since ``fields=`` may
  project them;
* typed paths per collection: ``/api/v1/collections/<name>/entries`` and ``.../entries/{slug}``
  (a files collection: one path per file), whose GETs answer those schemas.

So ``openapi-typescript`` gives types a front end uses as they are: ``entry.fields.hero.btn.url``
is a ``string`` and a misspelt field is a compile error. ``info.x-content-commit`` names the
commit whose model the document describes. ``/api/v1/collections/<name>/openapi.json`` is the
same document with only that collection's typed paths.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from cms.content import Snapshot
from cms.model.collection import Collection

GENERIC_LIST = "/api/v1/collections/{collection}/entries"
GENERIC_ONE = "/api/v1/collections/{collection}/entries/{slug}"


def type_name(*parts: str) -> str:
    """``pages`` + ``accueil`` → ``PagesAccueil``: a schema name (letters and digits)."""
    words = [w for part in parts for w in re.split(r"[^0-9A-Za-z]+", part) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Collection"
    return name if name[0].isalpha() else f"C{name}"


def fields_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A collection's JSON Schema as a component (no ``$schema``; its title kept)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "x-files")}


def optional(schema: Any) -> Any:
    """``schema`` with no property required, at any depth: a list's entries hold only the
    fields ``fields=`` asked for (dotted paths reach inside objects)."""
    if isinstance(schema, dict):
        return {k: optional(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [optional(item) for item in schema]
    return schema


def typed_document(spec: dict[str, Any], snap: Snapshot, only: str | None = None) -> dict:
    """``spec`` (the generic document) typed by the model of ``snap``; with ``only``, the typed
    paths of that collection alone."""
    doc = copy.deepcopy(spec)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    paths = doc["paths"]
    entry = schemas["Entry"]
    list_item, one_item = paths[GENERIC_LIST], paths[GENERIC_ONE]
    taken = set(schemas)
    typed_paths: dict[str, Any] = {}
    for collection in snap.collections():
        if only is not None and collection.name != only:
            continue
        typed_paths.update(
            _collection_paths(snap, collection, entry, list_item, one_item, schemas, taken)
        )
    paths.update(typed_paths)
    doc["tags"] = [*doc.get("tags", []), {
        "name": "content",
        "description": "The entries of each collection, typed by the site's model at "
        f"commit {snap.commit}.",
    }]  # fmt: skip
    doc["info"]["x-content-commit"] = snap.commit
    return doc


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{number}", number + 1
    taken.add(candidate)
    return candidate


def _entry_schema(entry: dict[str, Any], collection: str, fields_ref: str, slug: str | None):
    typed = copy.deepcopy(entry)
    properties = typed["properties"]
    properties["collection"] = {"type": "string", "const": collection}
    if slug is not None:
        properties["slug"] = {"type": "string", "const": slug}
    properties["fields"] = {
        "$ref": f"#/components/schemas/{fields_ref}",
        "description": properties["fields"].get("description", ""),
    }
    return typed


def _collection_paths(
    snap: Snapshot,
    collection: Collection,
    entry: dict[str, Any],
    list_item: dict[str, Any],
    one_item: dict[str, Any],
    schemas: dict[str, Any],
    taken: set[str],
) -> dict[str, Any]:
    base = type_name(collection.name)
    prefix = f"/api/v1/collections/{collection.name}/entries"
    found: dict[str, Any] = {}
    whole = collection.schema()

    def register(stem: str, fields: dict[str, Any], slug: str | None) -> tuple[dict, dict]:
        """``<stem>Fields``/``Entry`` and their listed twins; $refs to the two entries."""
        full = fields_schema(fields)
        refs: dict[str, dict[str, str]] = {}
        for kind, schema in (("", full), ("Listed", optional(full))):
            fields_name = _unique(f"{stem}{kind}Fields", taken)
            entry_name = _unique(f"{stem}{kind}Entry", taken)
            schemas[fields_name] = schema
            schemas[entry_name] = _entry_schema(entry, collection.name, fields_name, slug)
            refs[kind] = {"$ref": f"#/components/schemas/{entry_name}"}
        return refs[""], refs["Listed"]

    if collection.kind == "folder":
        one, listed_one = register(base, whole, None)
        item = _read(one_item, collection, one, keep_slug=True)
        listed = snap.files(collection)
        for parameter in item.get("parameters", []):
            if parameter["name"] == "slug" and listed:  # what "Try it out" fills in
                parameter["example"] = listed[0][0]
        found[f"{prefix}/{{slug}}"] = item
        found[prefix] = _read(list_item, collection, {"type": "array", "items": listed_one})
        return found
    variants = []
    for file_name, schema in whole.get("x-files", {}).items():
        one, listed_one = register(f"{base}{type_name(file_name)}", schema, file_name)
        variants.append(listed_one)
        found[f"{prefix}/{file_name}"] = _read(one_item, collection, one, keep_slug=False)
    found[prefix] = _read(list_item, collection, {"type": "array", "items": {"oneOf": variants}})
    return found


def _read(
    item: dict[str, Any], collection: Collection, schema: dict[str, Any], keep_slug: bool = True
) -> dict[str, Any]:
    """The generic path ``item`` for one collection: no ``collection`` parameter (nor ``slug``
    for a file of a files collection), its GET's 200 answering ``schema``. Its other methods
    stay as they are (the URL takes them too)."""
    typed: dict[str, Any] = {}
    for method, operation in item.items():
        if method == "parameters":
            continue
        operation = copy.deepcopy(operation)
        operation["tags"] = ["content"]
        operation["summary"] = f"{operation['summary']}: {collection.label}"
        if "operationId" in operation:
            operation["operationId"] += f"_{collection.name}"
        if method == "get":
            operation["responses"]["200"]["content"]["application/json"]["schema"] = schema
        typed[method] = operation
    parameters = [
        copy.deepcopy(p)
        for p in item.get("parameters", [])
        if p.get("name") != "collection" and (keep_slug or p.get("name") != "slug")
    ]
    if parameters:
        typed["parameters"] = parameters
    return typed


def init_typed(app, api) -> None:
    """Serve the typed document at the OpenAPI URL, and one per collection."""
    from cms.api.context import cached, snapshot
    from cms.api.responses import body_etag, dumps, json_response

    generic: list[dict[str, Any]] = []

    def document(only: str | None = None):
        if not generic:
            generic.append(api.spec.to_dict())
        snap = snapshot()
        if only is not None:
            snap.collection(only)  # NotFound for an unknown collection

        def build() -> tuple[bytes, str, dict[str, str]]:
            body = dumps(typed_document(generic[0], snap, only))
            return body, body_etag(body), {}

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)

    app.view_functions["api-docs.openapi_json"] = document
    app.add_url_rule(
        "/api/v1/collections/<collection>/openapi.json",
        "typed_collection_document",
        lambda collection: document(collection),
    )
