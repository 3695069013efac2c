"""Decap CMS's proxy backend protocol, over this server's store, writers and drafts.

Decap's editor, configured with ``backend: {name: proxy}``, POSTs ``{"action", "params"}`` to
one URL (``decap-server`` is the reference implementation; the shapes it answers with are kept
here). The differences are what make it safe to open to editors:

* reads come from git objects at the branch's commit, never from a checkout, and only files
  of the config's collections and media folders are read or written: ``.github/``, the config
  or a site's templates are out of reach;
* a save is one commit made by the same write path as the JSON API (the write lock, validation
  against the model with the legacy-problems rule, the editor as author), and only the fields
  the editor changed are written: Decap sends the whole file re-serialised (keys reordered,
  quoting and folding changed, dates rewritten), and the changed keys are spliced into the
  stored file as ``PATCH`` does;
* drafts (Decap's editorial workflow) are the ``cms/<collection>/<slug>`` branches of the JSON
  API; their status is the branch description, where Decap's git backend keeps it, and their
  changes are counted from the merge base with the published branch.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cms.content.changes import MAX_MESSAGE, new_problems
from cms.content.document import decode, parse
from cms.content.media import MediaLibrary, content_type
from cms.content.service import ContentService, Snapshot, locale_values
from cms.content.writer import edit_file, reads_back
from cms.errors import (
    CMSError,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Unprocessable,
)
from cms.model import Collection
from cms.storage.branches import Branches
from cms.storage.git import Identity
from cms.storage.lru import LRU
from cms.storage.opened import OpenedFiles

DRAFT_PREFIX = "cms/"
LABEL_PREFIX = "decap-cms/"
STATUSES = ("draft", "pending_review", "pending_publish")
READS = frozenset(
    {
        "info",
        "entriesByFolder",
        "entriesByFiles",
        "getEntry",
        "getMedia",
        "getMediaFile",
        "getDeployPreview",
        "unpublishedEntries",
        "unpublishedEntry",
        "unpublishedEntryDataFile",
        "unpublishedEntryMediaFile",
    }
)
WRITES = frozenset(
    {
        "persistEntry",
        "persistMedia",
        "deleteFile",
        "deleteFiles",
        "updateUnpublishedEntryStatus",
        "publishUnpublishedEntry",
        "deleteUnpublishedEntry",
    }
)
ACTIONS = READS | WRITES
# The reads with which Decap opens an entry: its version then is the base of the next save.
OPENING = frozenset({"getEntry", "unpublishedEntryDataFile"})


class ProxyNotFound(NotFound):
    """Decap reads a 404 on ``unpublishedEntry`` as "this entry has no draft"."""


@dataclass(frozen=True)
class Editor:
    """Who is saving: the commit's author, whether they may publish, and the key under which
    the versions they opened are remembered (their token's id)."""

    identity: Identity
    may_publish: bool
    key: str = ""


def _param(params: Mapping[str, Any], name: str, kind: type = str) -> Any:
    value = params.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        what = {str: "a non-empty string", list: "an array", dict: "an object"}.get(kind, "set")
        raise Unprocessable(f'"params.{name}" must be {what}', {"params": {name: [what]}})
    return value


def repo_path(value: Any, name: str = "path") -> str:
    """A repository-relative path from a client, or 422 (Decap's own message)."""
    bad = Unprocessable(
        f'"params.{name}" must resolve to a path under the configured repository',
        {"params": {name: [str(value)[:200]]}},
    )
    if not isinstance(value, str) or not value or "\x00" in value or "\\" in value:
        raise bad
    cleaned = posixpath.normpath(value.lstrip("/"))
    parts = cleaned.split("/")
    if cleaned.startswith("..") or any(p in ("..", ".git") for p in parts) or cleaned == ".":
        raise bad
    return cleaned


def _same_instant(old: str, new: str) -> bool:
    try:
        a = dt.datetime.fromisoformat(old.replace("Z", "+00:00"))
        b = dt.datetime.fromisoformat(new.replace("Z", "+00:00"))
    except ValueError:
        return False
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b


def keep_unchanged(old: Any, new: Any) -> Any:
    """``new``, with the parts that mean what ``old`` held taken from ``old``: Decap writes a
    date it parsed as ``2024-01-02T10:00:00.000Z`` where the file had ``...00Z``, and a save
    must not turn that into a change."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {key: keep_unchanged(old.get(key), value) for key, value in new.items()}
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [keep_unchanged(a, b) for a, b in zip(old, new, strict=True)]
    if isinstance(old, str) and isinstance(new, str) and old != new and _same_instant(old, new):
        return old
    return new


class DecapProxy:
    """The actions of Decap's proxy backend."""

    def __init__(
        self,
        service: ContentService,
        media: MediaLibrary,
        committer: Identity,
        repo_name: str,
        opened: OpenedFiles | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.media = media
        self.committer = committer
        self.repo_name = repo_name
        self.opened = opened
        self.branches = Branches(self.store)
        # Folder listings, by (the folder's tree, config, extension, depth): at most 64 MB.
        self._folders: LRU[tuple[Any, ...], list[dict[str, Any]]] = LRU(
            256, max_bytes=64 << 20, weigh=_listing_weight
        )

    # -- dispatch ------------------------------------------------------------------------------

    def run(self, action: Any, params: Any, editor: Editor) -> Any:
        if not isinstance(action, str) or action not in ACTIONS:
            raise Unprocessable(f"Unknown action {str(action)[:80]!r}", {"action": [str(action)]})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise Unprocessable('"params" must be an object', {"params": ["must be an object"]})
        handler: Callable[..., Any] = getattr(self, "_" + action)
        if action in WRITES:
            return handler(params, editor)
        return handler(params)

    def version(self, action: str, params: Mapping[str, Any]) -> str:
        """What a read's answer depends on (the commits and draft states it reads), so that
        answers can be cached per version."""
        if action == "unpublishedEntries":
            state: Any = self.store.branch_heads(DRAFT_PREFIX)
        elif action == "unpublishedEntry":  # the draft, where it left the published branch
            state = (self._draft_tip(params, True), self.store.head(), self.store.config_stamp())
        elif action.startswith("unpublished"):  # a file of the draft
            state = self._draft_tip(params, False)
        elif action in ("info", "getDeployPreview"):
            return ""
        else:
            return self._commit(params)
        return hashlib.sha1(repr(state).encode(), usedforsecurity=False).hexdigest()

    def _draft_tip(self, params: Mapping[str, Any], by_id: bool) -> str | None:
        try:
            return self._draft(params, by_id)[3]
        except CMSError:
            return None  # the answer is an error, never cached

    # -- reads ---------------------------------------------------------------------------------

    def _commit(self, params: Mapping[str, Any]) -> str:
        branch = params.get("branch")
        if branch is None:
            return self.store.head()
        if not isinstance(branch, str) or not branch:
            raise Unprocessable('"params.branch" must be a string', {"params": {"branch": []}})
        try:
            return self.store.resolve_branch(branch)
        except NotFound:
            raise Unprocessable(
                f"Default branch '{branch}' doesn't exist", {"params": {"branch": [branch]}}
            ) from None

    def _write_branch(self, params: Mapping[str, Any]) -> str:
        """The branch a write goes to: ``params.branch`` (422 when there is no such branch),
        else the published one."""
        branch = self.store.branch if params.get("branch") is None else str(params["branch"])
        self._commit({"branch": branch})
        return branch

    def _snapshot(self, params: Mapping[str, Any]) -> Snapshot:
        return self.service.snapshot_at(self._commit(params))

    def _info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "repo": self.repo_name,
            "publish_modes": ["simple", "editorial_workflow"],
            "type": "git_cms",
        }

    def _entries(self, snap: Snapshot, files: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
        """Decap's entry answers for (path, label) pairs, read from git in one batch."""
        found = {}
        for path, _ in files:
            blob = self.store.blob_at(snap.commit, path) if snap.file_owner(path) else None
            found[path] = blob.sha if blob else None
        texts = dict(self.store.read_blobs(sha for sha in set(found.values()) if sha))
        answer = []
        for path, label in files:
            sha = found[path]
            file: dict[str, Any] = {"path": path, "id": sha}
            if label is not None:
                file["label"] = label
            answer.append({"data": decode(texts[sha])[0] if sha else None, "file": file})
        return answer

    def _entriesByFolder(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        folder = repo_path(params.get("folder"), "folder")
        extension = str(params.get("extension") or "")
        depth = params.get("depth", 1)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            depth = 1
        snap = self._snapshot(params)
        # Kept by the folder's tree: a commit elsewhere (a save of another collection) does
        # not read the folder's files again.
        key = (self.store.folder_tree(snap.commit, folder), snap.config_sha, extension, depth)
        cached = self._folders.get(key)
        if cached is not None:
            return cached
        listed = self.store.list_tree(snap.commit, folder, min(depth, 1000))
        paths = [
            (blob.path, None)
            for blob in listed
            if blob.path.endswith(extension) and snap.file_owner(blob.path)
        ]
        return self._folders.put(key, self._entries(snap, paths))

    def _entriesByFiles(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        files = _param(params, "files", list)
        wanted = []
        for item in files:
            if not isinstance(item, dict):
                raise Unprocessable('"params.files" must hold objects with a path')
            label = item.get("label")
            wanted.append((repo_path(item.get("path")), label if isinstance(label, str) else None))
        return self._entries(self._snapshot(params), wanted)

    def _getEntry(self, params: Mapping[str, Any]) -> dict[str, Any]:
        path = repo_path(params.get("path"))
        return self._entries(self._snapshot(params), [(path, None)])[0]

    def _media_file(self, commit: str, path: str) -> dict[str, Any]:
        snap = self.service.snapshot_at(commit)
        if self.media.folder_of(snap, path) is None:
            raise NotFound(f"{path!r} is not in a media folder of the config", {"path": path})
        blob = self.store.blob_at(commit, path)
        if blob is None:
            raise NotFound(f"no media file {path!r}", {"path": path})
        return self._media_answer(path, blob.sha, self.store.read_blob(blob.sha))

    @staticmethod
    def _media_answer(path: str, sha: str, data: bytes) -> dict[str, Any]:
        return {
            "id": sha,
            "content": base64.b64encode(data).decode("ascii"),
            "encoding": "base64",
            "path": path,
            "name": posixpath.basename(path),
        }

    def _getMedia(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        folder = repo_path(params.get("mediaFolder"), "mediaFolder")
        snap = self._snapshot(params)
        try:
            files = self.media.list(snap, folder)
        except NotFound:
            return []
        texts = dict(self.store.read_blobs(f.version for f in files))
        return [self._media_answer(f.path, f.version, texts[f.version]) for f in files]

    def _getMediaFile(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._media_file(self._commit(params), repo_path(params.get("path")))

    def _getDeployPreview(self, params: Mapping[str, Any]) -> None:
        return None  # no deploy previews: Decap then offers none

    # -- drafts (the editorial workflow) -------------------------------------------------------

    def _draft_name(self, params: Mapping[str, Any], by_id: bool) -> tuple[str, str, str]:
        """(collection, slug, branch) of a draft: ``collection`` and ``slug``, or, for
        ``unpublishedEntry``, the content key ``id`` ("<collection>/<slug>")."""
        key = params.get("id") if by_id else None
        if isinstance(key, str) and "/" in key:
            collection, slug = key.split("/", 1)
        else:
            collection, slug = _param(params, "collection"), _param(params, "slug")
        return collection, slug, f"{DRAFT_PREFIX}{collection}/{slug}"

    def _draft(self, params: Mapping[str, Any], by_id: bool = False) -> tuple[str, str, str, str]:
        collection, slug, name = self._draft_name(params, by_id)
        try:
            commit = self.store.resolve_branch(name)
        except CMSError:  # no such branch, or no valid name for one
            raise ProxyNotFound("Not Found", {"draft": name}) from None
        return collection, slug, name, commit

    def _unpublishedEntries(self, params: Mapping[str, Any]) -> list[str]:
        heads = self.store.branch_heads(DRAFT_PREFIX)
        return sorted(name[len(DRAFT_PREFIX) :] for name in heads if name.count("/") >= 2)

    def _unpublishedEntry(self, params: Mapping[str, Any]) -> dict[str, Any]:
        collection, slug, name, commit = self._draft(params, by_id=True)
        prefix = params.get("cmsLabelPrefix") or LABEL_PREFIX
        label = self.branches.description(name) or f"{prefix}draft"
        status = label[len(prefix) :] if label.startswith(prefix) else "draft"
        diffs = []
        for change in self.branches.changes(name):
            diffs.append(
                {
                    "oldPath": change.previous or change.path,
                    "newPath": change.path,
                    "status": {"A": "added", "D": "deleted", "R": "renamed"}.get(
                        change.status, "modified"
                    ),
                    "newFile": change.status == "A",
                    "path": change.path,
                    "id": change.path,
                    "binary": content_type(change.path) != "application/octet-stream"
                    and not change.path.endswith((".md", ".markdown", ".yml", ".yaml", ".json")),
                }
            )
        info = self.store.commit_info(commit)
        return {
            "collection": collection,
            "slug": slug,
            "status": status if status in STATUSES else "draft",
            "diffs": diffs,
            "updatedAt": info.date,
        }

    def _unpublishedEntryDataFile(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _, _, name, commit = self._draft(params)
        path = repo_path(params.get("path"))
        snap = self.service.snapshot_at(commit)
        blob = self.store.blob_at(commit, path) if snap.file_owner(path) else None
        if blob is None:
            raise NotFound(f"no entry file {path!r} on {name!r}", {"path": path})
        return {"data": decode(self.store.read_blob(blob.sha))[0]}

    def _unpublishedEntryMediaFile(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _, _, _, commit = self._draft(params)
        return self._media_file(commit, repo_path(params.get("path")))

    # -- writes --------------------------------------------------------------------------------

    def _message(self, options: Mapping[str, Any], fallback: str) -> str:
        message = options.get("commitMessage")
        if isinstance(message, str) and message.strip():
            return message[:MAX_MESSAGE]
        return fallback

    def _persistEntry(self, params: Mapping[str, Any], editor: Editor) -> dict[str, str]:
        files = params.get("dataFiles")
        if files is None and isinstance(params.get("entry"), dict):
            files = [params["entry"]]
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise Unprocessable('"params.dataFiles" must be a non-empty array of files')
        assets = params.get("assets") or []
        if not isinstance(assets, list) or not all(isinstance(a, dict) for a in assets):
            raise Unprocessable('"params.assets" must be an array of files')
        options = params.get("options") or {}
        if not isinstance(options, dict):
            raise Unprocessable('"params.options" must be an object')
        branch = self._write_branch(params)
        message = self._message(options, "Update entry")
        if not options.get("useWorkflow"):
            self._save(branch, files, assets, message, editor, branch)
            return {"message": "entry persisted"}
        collection = _param(options, "collectionName")
        slug = files[0].get("slug")
        if not isinstance(slug, str) or not slug:
            raise Unprocessable('"params.dataFiles[0].slug" must be a non-empty string')
        draft = f"{DRAFT_PREFIX}{collection}/{slug}"
        try:
            self.store.resolve_branch(draft)
            created = None
        except NotFound:
            created = self.branches.create(draft, branch)
        try:
            self._save(draft, files, assets, message, editor, branch if created else draft)
        except BaseException:
            if created is not None:
                with contextlib.suppress(CMSError):  # it moved meanwhile: someone else's now
                    self.branches.delete(draft)
            raise
        if created is not None:
            status = options.get("status") if options.get("status") in STATUSES else "draft"
            prefix = params.get("cmsLabelPrefix") or LABEL_PREFIX
            self.branches.describe(draft, f"{prefix}{status}")
        return {"message": "entry persisted"}

    def _save(
        self,
        branch: str,
        files: list[dict[str, Any]],
        assets: list[dict[str, Any]],
        message: str,
        editor: Editor,
        opened_on: str,
    ) -> None:
        """One commit of the files and assets on ``branch``; each file merged with the
        version the editor opened on ``opened_on`` (the published branch for a new draft)."""
        moving = all(f.get("newPath") for f in files)
        with self.store.transaction(branch, message, editor.identity, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            for asset in assets:
                path = repo_path(asset.get("path"), "asset.path")
                self.media.stage_upload(tx, snap, path, _decoded(asset), overwrite=True)
            for item in files:
                self._stage_file(tx, snap, item, moving, self._opened(editor, opened_on, item))
        written = tx.changes if tx.result is not None else {}
        for path, data in written.items():
            if data is not None and self.opened is not None and editor.key:
                self.opened.record(editor.key, branch, path, blob_sha(data))

    def _opened(self, editor: Editor, branch: str, item: Mapping[str, Any]) -> str | None:
        path = item.get("path")
        if self.opened is None or not editor.key or not isinstance(path, str):
            return None
        return self.opened.base(editor.key, branch, path)

    def remember(self, action: str, params: Mapping[str, Any], editor: Editor) -> None:
        """Note the version of the entry an editor opens (``getEntry``, or a draft's
        ``unpublishedEntryDataFile``): their next save of it is merged from there."""
        if self.opened is None or not editor.key or action not in OPENING:
            return
        try:
            path = repo_path(params.get("path"))
            if action == "getEntry":
                branch, commit = (
                    str(params.get("branch") or self.store.branch),
                    self._commit(params),
                )
            else:
                _, _, branch, commit = self._draft(params)
        except CMSError:
            return
        blob = self.store.blob_at(commit, path)
        if blob is not None:
            self.opened.record(editor.key, branch, path, blob.sha)

    def _stage_file(
        self,
        tx: Any,
        snap: Snapshot,
        item: Mapping[str, Any],
        moving: bool,
        opened: str | None = None,
    ) -> None:
        path = repo_path(item.get("path"), "dataFile.path")
        target = repo_path(item.get("newPath"), "dataFile.newPath") if moving else path
        raw = item.get("raw")
        if not isinstance(raw, str):
            raise Unprocessable('"params.dataFiles[].raw" must be a string')
        owner = snap.file_owner(target)
        if owner is None:
            raise Unprocessable(
                f"{target!r} is not a file of any collection of the config", {"path": [target]}
            )
        collection, slug, _ = owner
        fmt = collection.format_for(slug)
        incoming = parse(raw, fmt)
        if incoming.problems:
            raise Unprocessable(
                "the entry cannot be read: " + "; ".join(incoming.problems),
                {"raw": incoming.problems},
            )
        stored = self.store.blob_at(tx.base, path)
        if stored is None:
            if moving:
                raise NotFound(f"no entry file {path!r} to move", {"path": path})
            self._check_new(tx, snap, collection, slug, target)
            _check(collection, slug, target, incoming.data, incoming.served_body, None)
            text = reads_back(raw, fmt, incoming.data, incoming.served_body)
            tx.write(target, text.encode("utf-8"))
            return
        stored_raw = self.store.read_blob(stored.sha)
        old = parse(stored_raw, fmt)
        data = keep_unchanged(old.data, incoming.data)
        body: str | None = incoming.served_body
        if opened is not None and opened != stored.sha:
            # Changed by someone else since this editor opened it: keep their changes, and
            # refuse only a field both changed.
            base = parse(self.store.read_blob(opened), fmt)
            ours = keep_unchanged(base.data, incoming.data)
            data, body = merge_change(
                (base.data, base.served_body), (old.data, old.served_body), (ours, body), path
            )
        if body.rstrip("\r\n") == old.served_body.rstrip("\r\n"):
            body = None  # the same text: the file's bytes stay
        _check(
            collection,
            slug,
            target,
            data,
            old.served_body if body is None else body,
            (old.data, old.served_body),
        )
        text = edit_file(old, data, body, fmt).encode("utf-8")
        if target != path:
            if tx.read(target) is not None:
                raise Unprocessable(f"an entry exists at {target!r}", {"path": [target]})
            tx.delete(path)
            tx.write(target, text)
        elif text != stored_raw:
            tx.write(path, text)

    def _check_new(
        self, tx: Any, snap: Snapshot, collection: Collection, slug: str, path: str
    ) -> None:
        if collection.kind != "folder":
            return  # a file of a files collection that is not there yet
        # A new locale file of an entry that exists is a translation, not a new entry.
        siblings = collection.locale_paths(slug).values()
        if any(p != path and self.store.blob_at(tx.base, p) for p in siblings):
            return
        if not collection.create:
            raise MethodNotAllowed(
                f"collection {collection.name!r} does not allow creating entries",
                {"collection": collection.name},
            )
        if collection.problems:
            raise Unprocessable(
                "entries of this collection cannot be created until its config is fixed: "
                + "; ".join(collection.problems)
            )

    def _persistMedia(self, params: Mapping[str, Any], editor: Editor) -> dict[str, Any]:
        asset = _param(params, "asset", dict)
        path = repo_path(asset.get("path"), "asset.path")
        options = params.get("options") if isinstance(params.get("options"), dict) else {}
        branch = self._write_branch(params)
        data = _decoded(asset)
        message = self._message(options, f"Upload “{path}”")
        with self.store.transaction(branch, message, editor.identity, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            self.media.stage_upload(tx, snap, path, data, overwrite=True)
        blob = self.store.blob_at(tx.result.sha if tx.result else tx.base, path)
        return self._media_answer(path, blob.sha if blob else "", data)

    def _deleteFile(self, params: Mapping[str, Any], editor: Editor) -> dict[str, str]:
        path = repo_path(params.get("path"))
        self._delete([path], params, editor)
        return {"message": f"deleted file {path}"}

    def _deleteFiles(self, params: Mapping[str, Any], editor: Editor) -> dict[str, str]:
        paths = [repo_path(p, "paths") for p in _param(params, "paths", list)]
        if not paths:
            raise Unprocessable('"params.paths" must hold at least one path')
        self._delete(paths, params, editor)
        return {"message": f"deleted files {', '.join(paths)}"}

    def _delete(self, paths: list[str], params: Mapping[str, Any], editor: Editor) -> None:
        options = params.get("options") if isinstance(params.get("options"), dict) else {}
        branch = self._write_branch(params)
        message = self._message(options, f"Delete {', '.join(paths)}")
        with self.store.transaction(branch, message, editor.identity, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            for path in paths:
                owner = snap.file_owner(path)
                if owner:
                    collection = owner[0]
                    if collection.kind != "folder" or not collection.delete:
                        raise MethodNotAllowed(
                            f"collection {collection.name!r} does not allow deleting entries",
                            {"collection": collection.name},
                        )
                elif self.media.folder_of(snap, path) is None:
                    raise Unprocessable(
                        f"{path!r} is neither an entry nor a media file", {"paths": [path]}
                    )
                if self.store.blob_at(tx.base, path) is not None:
                    tx.delete(path)  # a file that is not there is already deleted

    def _updateUnpublishedEntryStatus(
        self, params: Mapping[str, Any], editor: Editor
    ) -> dict[str, str]:
        _, _, name, _ = self._draft(params)
        status = params.get("newStatus")
        if status not in STATUSES:
            raise Unprocessable(
                f'"params.newStatus" must be one of {", ".join(STATUSES)}',
                {"params": {"newStatus": [str(status)]}},
            )
        prefix = params.get("cmsLabelPrefix") or LABEL_PREFIX
        label = f"{prefix}{status}"
        self.branches.describe(name, label)
        return {"message": f"{name} description was updated to {label}"}

    def _publishUnpublishedEntry(self, params: Mapping[str, Any], editor: Editor) -> dict[str, str]:
        if not editor.may_publish:
            raise Forbidden("publishing a draft needs the admin role; set it ready for review")
        _, _, name, _ = self._draft(params)
        branch = self.store.branch
        self.branches.publish(name, f"Publish {name}", editor.identity, self.committer)
        self.branches.delete(name)
        return {"message": f"branch {name} merged to {branch}"}

    def _deleteUnpublishedEntry(self, params: Mapping[str, Any], editor: Editor) -> dict[str, str]:
        _, _, name, _ = self._draft(params)
        self.branches.delete(name)
        return {"message": f"deleted branch: {name}"}


_MISSING: Any = object()


def blob_sha(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def merge_change(
    base: tuple[dict[str, Any], str],
    theirs: tuple[dict[str, Any], str],
    ours: tuple[dict[str, Any], str],
    path: str,
) -> tuple[dict[str, Any], str]:
    """A three-way merge of an entry's fields and body, field by field (objects key by key):
    a value only one side changed takes that side's; one both changed alike is kept; one both
    changed differently is a 409 naming it. ``theirs`` is what is stored now."""
    clashes: list[str] = []

    def same(a: Any, b: Any) -> bool:
        return a is b or (a is not _MISSING and b is not _MISSING and a == b)

    def merge(old: Any, now: Any, new: Any, where: str) -> Any:
        if same(new, old) or same(new, now):
            return now
        if same(now, old):
            return new
        if all(isinstance(v, dict) for v in (old, now, new)):
            merged = {}
            for key in dict.fromkeys([*now, *new]):
                value = merge(
                    old.get(key, _MISSING),
                    now.get(key, _MISSING),
                    new.get(key, _MISSING),
                    f"{where}.{key}" if where else key,
                )
                if value is not _MISSING:
                    merged[key] = value
            return merged
        clashes.append(where or "(the file)")
        return now

    data = merge(base[0], theirs[0], ours[0], "")
    body = merge(base[1].rstrip("\r\n"), theirs[1].rstrip("\r\n"), ours[1].rstrip("\r\n"), "body")
    if clashes:
        raise Conflict(
            f"{path} was changed since you opened it, in the same fields as your change "
            f"({', '.join(clashes)}): reload it, then make your change again",
            {"path": path, "fields": clashes},
        )
    return data, body if body != theirs[1].rstrip("\r\n") else theirs[1]


def _listing_weight(entries: list[dict[str, Any]]) -> int:
    return sum(len(e["data"] or "") + 200 for e in entries)


def _decoded(asset: Mapping[str, Any]) -> bytes:
    content = asset.get("content")
    if not isinstance(content, str):
        raise Unprocessable('"params.asset.content" must be a base64 string')
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise Unprocessable('"params.asset.content" is not valid base64') from None


def _check(
    collection: Collection,
    slug: str,
    path: str,
    data: dict[str, Any],
    body: str,
    before: tuple[dict[str, Any], str] | None,
) -> None:
    """422 for the problems a saved file brings that the stored one did not have: every
    locale's values of a single_file entry, the file's own values otherwise (a translation's
    file holds only the fields the model translates: their absence is no problem)."""
    i18n = collection.i18n_for(slug)
    # (values, body, stored values, stored body, is a translation)
    views: list[tuple[dict[str, Any], str, dict[str, Any] | None, str, bool]] = []
    if i18n is not None and i18n.structure == "single_file":
        for locale in i18n.locales:
            if locale in data or locale == i18n.default:
                values, text = locale_values(data, locale, body)
                old = locale_values(before[0], locale, before[1]) if before else (None, "")
                views.append((values, text, old[0], old[1], locale != i18n.default))
    else:
        translation = i18n is not None and path != collection.path_for(slug, i18n.default)
        old_values, old_text = before if before else (None, "")
        views.append((data, body, old_values, old_text, translation))
    for values, text, old_values, old_text, translation in views:
        stored = (old_values, old_text) if old_values is not None else None
        found = new_problems(collection, slug, values, text, stored)
        if translation:  # a translation holds only what the model translates
            found = [
                p for p in found if p[1] != "is required" or p[0][:1] in {(k,) for k in values}
            ]
        if found:
            errors: dict[str, list[str]] = {}
            for where, message in found:
                errors.setdefault(".".join(str(p) for p in where) or "(file)", []).append(message)
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
            raise Unprocessable(
                f"the entry does not fit the content model: {detail}", {"fields": errors}
            )
