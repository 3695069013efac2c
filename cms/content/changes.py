"""The write use cases: create, replace, patch (JSON merge patch) and delete an entry.

Each is one transaction: the write lock is held, the branch head read, the entry's version
compared with ``If-Match`` (inside the lock, so two writers based on the same version cannot
both win), the new content validated against the model at that commit, and one commit made.
Any failure before the commit leaves the repository exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cms.content.document import parse
from cms.content.entry import Entry
from cms.content.service import ContentService, Snapshot
from cms.content.slug import check_slug, derive_slug, fill_template, unique_slug
from cms.content.writer import edit_file, new_file
from cms.errors import (
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from cms.model import Collection, Field
from cms.model.i18n import NONE
from cms.model.problems import FieldPath
from cms.storage.git import Identity
from cms.storage.transaction import MAX_MESSAGE, message_fits

CREATE_KEYS = {"slug", "fields", "body", "message"}
UPDATE_KEYS = {"fields", "body", "message"}
# An edit: the entry's (fields, body) → the new (fields, body).
Edit = Callable[[dict[str, Any], str], tuple[dict[str, Any], str]]


@dataclass(frozen=True)
class Written:
    """The result of a write: the entry as committed (None after a delete) and the commit."""

    entry: Entry | None
    commit: str
    slug: str


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _shape(payload: Any, allowed: set[str], required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Unprocessable("the body must be a JSON object", {"json": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    for key in payload:
        if key not in allowed:
            errors[key] = [f"unknown key; use {', '.join(sorted(allowed))}"]
    for key in required:
        if key not in payload:
            errors[key] = ["is required"]
    checks = {
        "fields": (dict, "must be an object"),
        "body": (str, "must be a string"),
        "slug": (str, "must be a string"),
        "message": (str, "must be a string"),
    }
    for key, (kind, message) in checks.items():
        value = payload.get(key)
        if value is not None and not isinstance(value, kind):
            errors[key] = [message]
    if "fields" in payload and payload["fields"] is None:
        errors["fields"] = ["must be an object"]
    text = payload.get("message")
    if isinstance(text, str) and not message_fits(text):
        errors["message"] = [f"must have 1 to {MAX_MESSAGE} characters"]
    if errors:
        raise Unprocessable("the request body is not valid", {"json": errors})
    return payload


def _nest(errors: dict[str, Any], path: FieldPath, message: str) -> None:
    node = errors
    for part in path[:-1]:
        node = node.setdefault(str(part), {})
        if isinstance(node, list):  # a message on a parent already: keep both
            return
    node.setdefault(str(path[-1]), []).append(message)


Problem = tuple[tuple[str | int, ...], str]


def content_problems(
    collection: Collection, slug: str, fields: dict[str, Any], body: str
) -> list[Problem]:
    """Every way the fields and body break the model: (field path, message)."""
    found: list[Problem] = []
    definition = collection.fields_for(slug)

    def report(path: FieldPath, message: str) -> None:
        found.append((tuple(path), message))

    collection.check(slug, fields, body if definition.body is not None else None, report)
    known = {f.name for f in definition.fields}
    for key in fields:
        if key not in known and key != "body":
            found.append(((key,), "is not a field of this collection"))
    return found


def new_problems(
    collection: Collection,
    slug: str,
    fields: dict[str, Any],
    body: str,
    before: tuple[dict[str, Any], str] | None = None,
) -> list[Problem]:
    """The problems of ``fields`` and ``body`` that the stored version (``before``: its fields
    and body) did not already have; all of them without ``before``."""
    found = content_problems(collection, slug, fields, body)
    if before is not None and found:
        legacy = set(content_problems(collection, slug, *before))
        found = [problem for problem in found if problem not in legacy]
    return found


def check_content(
    collection: Collection,
    slug: str,
    fields: dict[str, Any],
    body: str,
    before: tuple[dict[str, Any], str] | None = None,
) -> None:
    """422 naming every bad field by its path (``errors.json.fields.hero.title``).

    With ``before`` (the stored fields and body of the entry being changed), only the problems
    the change introduces count: a problem the stored version already had, in a field the
    change leaves as it was, does not block an edit of another field (real sites hold years of
    such problems); the entry read back lists it. Creates are checked whole.
    """
    found = new_problems(collection, slug, fields, body, before)
    if not found:
        return
    errors: dict[str, Any] = {}
    has_body = collection.fields_for(slug).body is not None
    for path, message in found:
        if path and path[0] == "body" and has_body:
            _nest(errors, ("body",), message)
        else:
            _nest(errors.setdefault("fields", {}), path, message)
    raise Unprocessable("the entry does not fit the content model", {"json": errors})


def in_model_order(data: dict[str, Any], fields: Sequence[Field]) -> dict[str, Any]:
    """The keys in the order of the collection's fields (as Decap writes them), nested objects
    too; keys the model does not name come last, in the order given."""
    out: dict[str, Any] = {}
    for item in fields:
        if item.name in data:
            value = data[item.name]
            children = getattr(item.widget, "fields", ())
            if isinstance(value, dict) and children:
                value = in_model_order(value, children)
            elif isinstance(value, list) and children:
                value = [in_model_order(v, children) if isinstance(v, dict) else v for v in value]
            out[item.name] = value
    for key, value in data.items():
        out.setdefault(key, value)
    return out


def _require_if_match(if_match: Sequence[str] | None, verb: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            f"send If-Match with the entry's version (its ETag) to {verb} it",
            {"headers": {"If-Match": ["is required"]}},
        )


class EntryWriter:
    """Writes entries of one repository; the committer is the server's identity."""

    def __init__(self, service: ContentService, committer: Identity) -> None:
        self.service = service
        self.store = service.store
        self.committer = committer

    def _message(
        self, snap: Snapshot, action: str, collection: Collection, slug: str, author: Identity
    ) -> str:
        values = {
            "collection": collection.label_singular or collection.label,
            "slug": slug,
            "path": collection.path_for(slug),
            "author-login": author.email,
            "author-name": author.name,
        }
        # As in Decap, a name the template should not use becomes empty.
        template = snap.model.commit_messages.get(action, "")
        return fill_template(template, lambda name: values.get(name, ""))

    # -- create -------------------------------------------------------------------------------

    def create(
        self, name: str, payload: Any, author: Identity, branch: str | None = None
    ) -> Written:
        data = _shape(payload, CREATE_KEYS, required=("fields",))
        branch = branch or self.store.branch
        head = self.service.snapshot_at(self.store.resolve_branch(branch))
        slug, fields, text = prepare_create(head, name, data)
        with self.store.transaction(
            branch, data.get("message") or "", author, self.committer
        ) as tx:
            snap = self.service.snapshot_at(tx.base)
            collection, slug = stage_create(tx, snap, name, slug, fields, text)
            self._set_message(tx, snap, "create", collection, slug, author, data)
        return self._written(tx.result.sha, collection, slug)

    # -- replace, patch -----------------------------------------------------------------------

    def replace(
        self,
        name: str,
        slug: str,
        payload: Any,
        if_match: Sequence[str] | None,
        author: Identity,
        branch: str | None = None,
        locale: str | None = None,
    ) -> Written:
        data = _shape(payload, UPDATE_KEYS, required=("fields",))
        change = replacing(data)
        return self._update(name, slug, if_match, author, branch, data, change, locale)

    def patch(
        self,
        name: str,
        slug: str,
        payload: Any,
        if_match: Sequence[str] | None,
        author: Identity,
        branch: str | None = None,
        locale: str | None = None,
    ) -> Written:
        if isinstance(payload, dict) and "body" in payload and payload["body"] is None:
            payload = {**payload, "body": ""}
        data = _shape(payload, UPDATE_KEYS)
        change = patching(data)
        return self._update(name, slug, if_match, author, branch, data, change, locale)

    def _update(
        self,
        name: str,
        slug: str,
        if_match: Sequence[str] | None,
        author: Identity,
        branch: str | None,
        data: Mapping[str, Any],
        change: Edit,
        locale: str | None = None,
    ) -> Written:
        _require_if_match(if_match, "change")
        branch = branch or self.store.branch
        with self.store.transaction(branch, "", author, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            collection, current = stage_update(tx, snap, name, slug, if_match, change, locale)
            slug = current.slug
            self._set_message(tx, snap, "update", collection, slug, author, data)
        if tx.result is None:  # nothing changed: no commit, the entry as it is
            return Written(snap.with_history([current])[0], tx.base, slug)
        return self._written(tx.result.sha, collection, slug, locale)

    # -- restore ------------------------------------------------------------------------------

    def restore(
        self,
        name: str,
        slug: str,
        payload: Any,
        if_match: Sequence[str] | None,
        author: Identity,
        branch: str | None = None,
    ) -> Written:
        """Write a past state of an entry (its file byte for byte) as a new commit.

        ``version`` names the state: a version (blob sha) from the entry's history, or a
        branch, tag or commit at which the entry existed (under its path then, renames
        followed). The state is checked against the model of today: an old entry that no
        longer fits it is a 422, not a broken file.
        """
        data = _shape(payload, {"version", "message"}, required=("version",))
        wanted = data.get("version")
        if not isinstance(wanted, str) or not wanted.strip():
            raise Unprocessable(
                "the request body is not valid", {"json": {"version": ["must be a string"]}}
            )
        _require_if_match(if_match, "restore")
        branch = branch or self.store.branch
        with self.store.transaction(branch, "", author, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            collection = snap.collection(name)
            current = snap.entry(collection, slug, history=False)
            slug = current.slug
            check_version(current, if_match)
            blob = self._past_blob(tx.base, current, wanted.strip())
            raw = self.store.read_blob(blob)
            fmt = collection.format_for(slug)
            document = parse(raw, fmt)
            if document.problems:
                raise Unprocessable(
                    "that version of the entry cannot be read",
                    {"json": {"version": document.problems}},
                )
            stored = parse(self.store.read_blob(current.version), fmt)
            check_content(
                collection,
                slug,
                document.data,
                document.served_body,
                (stored.data, stored.served_body),
            )
            if blob != current.version:
                tx.write(current.path, raw)
            tx.message = data.get("message") or (
                f"Restore {collection.label_singular or collection.label} “{slug}” "
                f"to {wanted.strip()[:12]}"
            )
        if tx.result is None:  # already that version
            return Written(snap.with_history([current])[0], tx.base, slug)
        return self._written(tx.result.sha, collection, slug)

    def _past_blob(self, head: str, current: Entry, wanted: str) -> str:
        history = self.store.file_history(head, current.path)
        for version in history:
            if version.blob is not None and version.blob == wanted.lower():
                return version.blob
        try:
            commit = self.store.resolve(wanted)
        except (NotFound, BadRequest):
            commit = None
        if commit is not None:
            for path in dict.fromkeys([current.path, *(v.path for v in history)]):
                found = self.store.blob_at(commit, path)
                if found is not None:
                    return found.sha
        raise NotFound(
            f"the entry has no version {wanted!r} (a version from its history, or a ref at "
            "which it existed)",
            {"version": wanted},
        )

    # -- delete -------------------------------------------------------------------------------

    def delete(
        self,
        name: str,
        slug: str,
        if_match: Sequence[str] | None,
        author: Identity,
        branch: str | None = None,
        message: str | None = None,
    ) -> Written:
        _require_if_match(if_match, "delete")
        branch = branch or self.store.branch
        with self.store.transaction(branch, "", author, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            collection, current = stage_delete(tx, snap, name, slug, if_match)
            self._set_message(
                tx, snap, "delete", collection, current.slug, author, {"message": message}
            )
        return Written(None, tx.result.sha, current.slug)

    # -- helpers ------------------------------------------------------------------------------

    def _set_message(
        self,
        tx: Any,
        snap: Snapshot,
        action: str,
        collection: Collection,
        slug: str,
        author: Identity,
        data: Mapping[str, Any],
    ) -> None:
        tx.message = data.get("message") or self._message(snap, action, collection, slug, author)

    def _written(
        self, commit: str, collection: Collection, slug: str, locale: str | None = None
    ) -> Written:
        """The entry as committed (in ``locale``, with i18n); its last change is that commit
        (no history walk needed)."""
        snap = self.service.snapshot_at(commit)
        try:
            found = snap.collection(collection.name)
            entry = snap.localized(found, snap.entry(found, slug, history=False), locale)
        except NotFound:
            return Written(None, commit, slug)
        return Written(entry.at(commit, self.store.commit_info(commit)), commit, slug)


# -- the steps of a write, inside a transaction (shared with changesets) ---------------------


def replacing(data: Mapping[str, Any]) -> Edit:
    """PUT: the given fields and body (none given: an empty body) replace the entry's."""
    return lambda _fields, _body: (data["fields"], data.get("body") or "")


def patching(data: Mapping[str, Any]) -> Edit:
    """PATCH: ``fields`` is a JSON merge patch of the entry's; ``body``, if given, replaces."""

    def apply(fields: dict[str, Any], body: str) -> tuple[dict[str, Any], str]:
        patched = merge_patch(fields, data["fields"]) if "fields" in data else fields
        return patched, data.get("body", body)

    return apply


def check_version(current: Entry, if_match: Sequence[str] | None) -> None:
    assert if_match is not None
    if "*" in if_match or current.version in if_match:
        return
    raise PreconditionFailed(
        "the entry changed since the version in If-Match; read it again and retry",
        {"version": current.version},
    )


def creatable(snap: Snapshot, name: str) -> Collection:
    collection = snap.collection(name)
    if collection.kind != "folder" or not collection.create:
        raise MethodNotAllowed(
            f"collection {name!r} does not allow creating entries", {"collection": name}
        )
    if collection.problems:
        raise Conflict(
            f"entries of {name!r} cannot be created until its config is fixed: "
            + "; ".join(collection.problems),
            {"collection": name, "config": list(collection.problems)},
        )
    return collection


def prepare_create(
    snap: Snapshot, name: str, data: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any], bytes]:
    """Check a new entry before the lock is taken: (the slug if given, fields, the file)."""
    collection = creatable(snap, name)
    given = data.get("slug")
    slug = check_slug(given, collection.nested) if given else None
    fields: dict[str, Any] = data["fields"]
    body: str = data.get("body") or ""
    check_content(collection, slug or "", fields, body)
    ordered = in_model_order(fields, collection.fields_for(slug or "").fields)
    i18n = collection.i18n
    if i18n is not None and i18n.structure == "single_file":
        values = {**ordered, "body": body} if collection.fields_for("").body else ordered
        ordered, body = {i18n.default: values}, ""
    return slug, fields, new_file(ordered, body, collection.format).encode("utf-8")


def stage_create(
    tx: Any, snap: Snapshot, name: str, slug: str | None, fields: dict[str, Any], text: bytes
) -> tuple[Collection, str]:
    """Add a new entry's file to the transaction; the slug is derived if not given."""
    collection = creatable(snap, name)
    if slug is None:
        base = derive_slug(collection, fields, snap.model.slug)
        slug = unique_slug(base, lambda s: tx.read(collection.path_for(s)) is not None)
    path = collection.path_for(slug)
    if tx.read(path) is not None:
        raise Conflict(f"an entry {slug!r} already exists in {name!r}", {"slug": slug})
    if collection.slug_for_path(path) != slug:
        raise Unprocessable(f"slug {slug!r} does not fit this collection's files")
    tx.write(path, text)
    return collection, slug


def stage_update(
    tx: Any,
    snap: Snapshot,
    name: str,
    slug: str,
    if_match: Sequence[str] | None,
    change: Edit,
    locale: str | None = None,
) -> tuple[Collection, Entry]:
    """Edit an entry's file in the transaction (only the lines of changed keys). With i18n,
    the entry's values in ``locale`` (default: the default locale's), in that locale's file
    or key; a field the model does not translate is changed in the default locale only."""
    collection = snap.collection(name)
    default = snap.entry(collection, slug, history=False)  # NotFound if not there
    current = snap.localized(collection, default, locale)
    check_version(current, if_match)
    raw = snap.service.store.read_blob(current.version)
    fmt = collection.format_for(current.slug)
    document = parse(raw, fmt)
    fields, body = change(copy.deepcopy(current.fields), current.body)
    check_content(collection, current.slug, fields, body, (current.fields, current.body))
    data, file_body = stored_values(collection, current, document, fields, body)
    text = edit_file(document, data, file_body, fmt).encode("utf-8")
    if text != raw:
        tx.write(current.path, text)
    return collection, current


def stored_values(
    collection: Collection,
    current: Entry,
    document: Any,
    fields: dict[str, Any],
    body: str,
) -> tuple[dict[str, Any], str | None]:
    """What an entry's file holds once its (localized) values are ``fields`` and ``body``:
    the front matter's data and the body (None: the file's own stays)."""
    i18n = collection.i18n_for(current.slug)
    if i18n is None:
        return fields, body
    definition = collection.fields_for(current.slug)
    translated = i18n.default == current.locale
    if not translated:
        for item in definition.fields:
            if item.i18n == NONE and fields.get(item.name) != current.fields.get(item.name):
                raise Unprocessable(
                    f"field {item.name!r} is not translated (i18n: none): change it in the "
                    f"default locale {i18n.default!r}",
                    {"json": {"fields": {item.name: ["is not translated"]}}},
                )
        kept = {item.name for item in definition.fields if item.i18n != NONE}
        fields = {k: v for k, v in fields.items() if k in kept or definition.at(k) is None}
    has_body = definition.body is not None and (translated or definition.body.i18n != NONE)
    if i18n.structure != "single_file":
        return fields, body if has_body else None
    values = dict(fields)
    if has_body:
        values["body"] = body
    return {**document.data, current.locale: values}, None


def stage_delete(
    tx: Any, snap: Snapshot, name: str, slug: str, if_match: Sequence[str] | None
) -> tuple[Collection, Entry]:
    collection = snap.collection(name)
    if collection.kind != "folder" or not collection.delete:
        raise MethodNotAllowed(
            f"collection {name!r} does not allow deleting entries", {"collection": name}
        )
    current = snap.entry(collection, slug, history=False)
    check_version(current, if_match)
    tx.delete(current.path)
    for path in collection.locale_paths(current.slug).values():
        if path != current.path and tx.read(path) is not None:
            tx.delete(path)  # every locale's file goes with the entry, as in Decap
    return collection, current
