"""Changesets: several creates, updates, patches and deletes in one commit, or none.

A changeset names the commit it was prepared against (``base``). If the branch has moved
since, it still lands on the new head as long as none of its entries changed meanwhile;
otherwise it is a 409 that names them. Each operation is checked as the single-entry write
would check it (its own ``if_match``, the model), and the first failure stops everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cms.content.changes import (
    MAX_MESSAGE,
    Edit,
    EntryWriter,
    patching,
    prepare_create,
    replacing,
    stage_create,
    stage_delete,
    stage_update,
)
from cms.content.slug import check_slug
from cms.errors import CMSError, Conflict, NotFound, PreconditionRequired, Unprocessable
from cms.storage.git import Identity
from cms.storage.transaction import message_fits

OPERATIONS = ("create", "update", "patch", "delete")
MAX_OPERATIONS = 100
KEYS = {"op", "collection", "slug", "fields", "body", "if_match"}


class OperationError(CMSError):
    """An operation of a changeset failed: its error, with the operation's index."""

    def __init__(self, index: int, error: CMSError) -> None:
        super().__init__(
            f"operation {index}: {error.message}",
            {"operations": {str(index): error.errors or {"message": error.message}}},
        )
        self.status = error.status  # type: ignore[misc]


@dataclass(frozen=True)
class Applied:
    op: str
    collection: str
    slug: str
    version: str | None  # the entry's version after the commit; None once deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "collection": self.collection,
            "slug": self.slug,
            "version": self.version,
        }


@dataclass(frozen=True)
class Landed:
    commit: str  # the new commit, or the head if nothing changed
    created: bool
    applied: list[Applied]


def _shape(payload: Any) -> tuple[str, str | None, list[dict[str, Any]]]:
    errors: dict[str, Any] = {}
    if not isinstance(payload, Mapping):
        raise Unprocessable("the body must be a JSON object", {"json": ["must be an object"]})
    for key in payload:
        if key not in ("message", "base", "operations"):
            errors[key] = ["unknown key; use base, message, operations"]
    message = payload.get("message")
    if not isinstance(message, str) or not message_fits(message):
        errors["message"] = [f"a commit message of 1 to {MAX_MESSAGE} characters is required"]
    base = payload.get("base")
    if base is not None and (not isinstance(base, str) or not base.strip()):
        errors["base"] = ["must be a commit sha"]
    operations = payload.get("operations")
    if not isinstance(operations, list) or not 1 <= len(operations) <= MAX_OPERATIONS:
        errors["operations"] = [f"a list of 1 to {MAX_OPERATIONS} operations is required"]
        operations = []
    for index, op in enumerate(operations):
        problems = _check_operation(op)
        if problems:
            errors.setdefault("operations", {})[str(index)] = problems
    if errors:
        raise Unprocessable("the changeset is not valid", {"json": errors})
    return message, base, operations  # type: ignore[return-value]


def _check_operation(op: Any) -> dict[str, list[str]]:
    if not isinstance(op, Mapping):
        return {"op": ["each operation is an object"]}
    problems: dict[str, list[str]] = {}
    for key in op:
        if key not in KEYS:
            problems[key] = [f"unknown key; use {', '.join(sorted(KEYS))}"]
    kind = op.get("op")
    if kind not in OPERATIONS:
        problems["op"] = [f"one of {', '.join(OPERATIONS)}"]
    if not isinstance(op.get("collection"), str):
        problems["collection"] = ["is required"]
    if kind != "create" and not isinstance(op.get("slug"), str):
        problems["slug"] = ["is required"]
    if kind in ("create", "update") and not isinstance(op.get("fields"), dict):
        problems["fields"] = ["an object is required"]
    if kind == "patch" and "fields" in op and not isinstance(op.get("fields"), dict):
        problems["fields"] = ["must be an object"]
    if "body" in op and op["body"] is not None and not isinstance(op["body"], str):
        problems["body"] = ["must be a string"]
    if "if_match" in op and not isinstance(op["if_match"], str):
        problems["if_match"] = ["must be the entry's version"]
    return problems


class ChangesetWriter:
    """Applies changesets to one repository, with the committer of the entry writer."""

    def __init__(self, writer: EntryWriter) -> None:
        self.writer = writer
        self.service = writer.service
        self.store = writer.store

    def apply(self, payload: Any, author: Identity, branch: str | None = None) -> Landed:
        message, base, operations = _shape(payload)
        branch = branch or self.store.branch
        head = self.service.snapshot_at(self.store.resolve_branch(branch))
        prepared: dict[int, tuple[str | None, dict[str, Any], bytes]] = {}
        for index, op in enumerate(operations):
            if op["op"] == "create":
                data = {k: op[k] for k in ("slug", "fields", "body") if k in op}
                prepared[index] = self._step(index, prepare_create, head, op["collection"], data)
            elif op["op"] != "create" and "if_match" not in op:
                raise OperationError(
                    index,
                    PreconditionRequired(
                        "each update, patch and delete needs the entry's version in if_match",
                        {"if_match": ["is required"]},
                    ),
                )
        base_commit = self._base(base) if base else None
        with self.store.transaction(branch, message, author, self.writer.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            self._check_overlap(snap, base_commit, tx.base, operations)
            touched: set[str] = set()
            applied: list[tuple[str, str, str, str | None]] = []
            for index, op in enumerate(operations):
                name = op["collection"]
                if op["op"] == "create":
                    slug, fields, text = prepared[index]
                    collection, slug = self._step(
                        index, stage_create, tx, snap, name, slug, fields, text
                    )
                    path = collection.path_for(slug)
                elif op["op"] == "delete":
                    collection, current = self._step(
                        index, stage_delete, tx, snap, name, op["slug"], [op["if_match"]]
                    )
                    slug, path = current.slug, current.path
                else:
                    collection, current = self._step(
                        index, stage_update, tx, snap, name, op["slug"], [op["if_match"]],
                        _change(op),
                    )  # fmt: skip
                    slug, path = current.slug, current.path
                if path in touched:
                    raise OperationError(
                        index,
                        Unprocessable(
                            "a changeset changes each entry once", {"slug": [f"{slug!r} again"]}
                        ),
                    )
                touched.add(path)
                applied.append((op["op"], collection.name, slug, path))
        commit = tx.result.sha if tx.result is not None else tx.base
        return Landed(
            commit,
            tx.result is not None,
            [
                Applied(op, name, slug, self._version(commit, path))
                for op, name, slug, path in applied
            ],
        )

    @staticmethod
    def _step(index: int, step, *args):
        try:
            return step(*args)
        except CMSError as error:
            raise OperationError(index, error) from None

    def _base(self, base: str) -> str:
        try:
            return self.store.resolve(base)
        except CMSError:
            raise NotFound(f"no commit {base!r} to base the changeset on", {"base": base}) from None

    def _check_overlap(self, snap, base: str | None, head: str, operations: list) -> None:
        """409 naming the entries this changeset changes that also changed since ``base``."""
        if base is None or base == head:
            return
        moved: set[str] = set()
        for change in self.store.diff(base, head, renames=True):
            moved.add(change.path)
            if change.previous:
                moved.add(change.previous)
        clashes = []
        for index, op in enumerate(operations):
            collection = snap.model.collection(op["collection"])
            if collection is None:
                continue  # reported by the operation itself
            slug = op.get("slug")
            if not slug:
                continue  # a slug derived from the fields: checked for taken when staged
            try:
                path = collection.path_for(check_slug(slug, collection.nested))
            except (CMSError, KeyError):
                continue  # not a slug of this collection: reported when staged
            if path in moved:
                clashes.append({"operation": index, "collection": collection.name, "slug": slug})
        if clashes:
            names = ", ".join(f"{c['collection']}/{c['slug']}" for c in clashes)
            raise Conflict(
                f"these entries changed since the changeset's base: {names}",
                {"conflicts": clashes, "base": base, "head": head},
            )

    def _version(self, commit: str, path: str) -> str | None:
        found = self.store.blob_at(commit, path)
        return found.sha if found is not None else None


def _change(op: Mapping[str, Any]) -> Edit:
    # In a changeset a null body leaves the body as it is.
    data = {key: value for key, value in op.items() if not (key == "body" and value is None)}
    return replacing(data) if op["op"] == "update" else patching(data)
