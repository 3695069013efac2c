"""Media files: the uploads of a site, in the folders its Decap config names.

A site's ``media_folder`` (and a collection's own, when it has one) is where uploads go, and its
``public_folder`` the URL they are served at. Only those folders take uploads, only files whose
extension is in the allow-list (``CMS_MEDIA_TYPES``) and whose first bytes are what that
extension says, and none larger than ``CMS_MEDIA_MAX_BYTES``: an upload can never become a
page, a script, an entry or the config. An upload or a deletion is one commit, like any write.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cms.content.service import ContentService, Snapshot
from cms.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired, Unprocessable
from cms.model import Model
from cms.storage import command
from cms.storage.git import Identity, TreeEntry
from cms.storage.lru import LRU

DEFAULT_TYPES = ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "pdf")
MAX_NAME_BYTES = 255
_TEMPLATE = re.compile(r"\{\{")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")
# What the first bytes of a file of each type are (a file that says it is a PNG is one).
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "jpg": ((0, b"\xff\xd8\xff"),),
    "jpeg": ((0, b"\xff\xd8\xff"),),
    "gif": ((0, b"GIF87a"), (0, b"GIF89a")),
    "webp": ((8, b"WEBP"),),
    "avif": ((4, b"ftypavif"), (4, b"ftypavis")),
    "pdf": ((0, b"%PDF-"),),
    "ico": ((0, b"\x00\x00\x01\x00"),),
    "mp4": ((4, b"ftyp"),),
    "webm": ((0, b"\x1a\x45\xdf\xa3"),),
}
_TYPES = {"svg": "image/svg+xml", "avif": "image/avif", "webp": "image/webp", "ico": "image/x-icon"}


@dataclass(frozen=True)
class MediaFolder:
    """A folder that takes uploads, and the URL its files are served at (None: none)."""

    folder: str
    public: str | None
    collection: str | None = None


@dataclass(frozen=True)
class MediaFile:
    path: str
    version: str  # the blob sha: the file's ETag
    size: int
    folder: str
    url: str | None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "name": self.name,
            "folder": self.folder,
            "version": self.version,
            "size": self.size,
            "url": self.url,
            "content_type": content_type(self.path),
        }


@dataclass(frozen=True)
class MediaRules:
    max_bytes: int
    types: tuple[str, ...] = DEFAULT_TYPES


def content_type(path: str) -> str:
    extension = extension_of(path)
    return (
        _TYPES.get(extension)
        or mimetypes.guess_type(f"x.{extension}")[0]
        or "application/octet-stream"
    )


def extension_of(path: str) -> str:
    name = posixpath.basename(path)
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _clean(folder: str) -> str | None:
    """A repository-relative folder, or None when it is not one (``..``, ``.git``)."""
    cut = _TEMPLATE.search(folder)
    if cut:  # a templated folder (`{{slug}}`): uploads go below its fixed part
        folder = folder[: cut.start()].rsplit("/", 1)[0] if "/" in folder[: cut.start()] else ""
    cleaned = posixpath.normpath(folder.strip().strip("/")) if folder.strip().strip("/") else ""
    parts = cleaned.split("/") if cleaned else []
    if any(p in ("..", ".git") or p.startswith(".") for p in parts):
        return None
    return cleaned


def _public(url: str | None) -> str | None:
    if not url or not url.startswith("/") or _TEMPLATE.search(url) or "://" in url:
        return None
    return "/" + url.strip("/") if url.strip("/") else None


def media_folders(model: Model) -> list[MediaFolder]:
    """The site's media folder first, then each collection's own (absolute ones as given,
    relative ones below the collection's folder)."""
    found: list[MediaFolder] = []
    if isinstance(model.media_folder, str):
        folder = _clean(model.media_folder)
        if folder:
            public = model.public_folder if isinstance(model.public_folder, str) else None
            found.append(MediaFolder(folder, _public(public or "/" + folder)))
    for collection in model.collections.values():
        if collection.media_folder is None:
            continue
        raw = collection.media_folder
        if raw.startswith("/"):
            folder = _clean(raw)
        else:
            base = collection.folder
            if collection.kind == "files":
                paths = [posixpath.dirname(item.path) for item in collection.files.values()]
                base = paths[0] if len(set(paths)) == 1 else ""
            folder = _clean(posixpath.join(base, raw) if base else raw)
        if not folder or any(f.folder == folder for f in found):
            continue
        public = collection.public_folder if collection.public_folder is not None else raw
        found.append(MediaFolder(folder, _public(public), collection.name))
    return found


class MediaLibrary:
    """Reads and writes the media of one repository."""

    def __init__(self, service: ContentService, rules: MediaRules, committer: Identity) -> None:
        self.service = service
        self.store = service.store
        self.rules = rules
        self.committer = committer
        self._listed: LRU[tuple[str, str], tuple[MediaFile, ...]] = LRU(256)

    # -- where files may be --------------------------------------------------------------------

    def folders(self, snap: Snapshot) -> list[MediaFolder]:
        return media_folders(snap.model)

    def folder_of(self, snap: Snapshot, path: str) -> MediaFolder | None:
        """The media folder a path is in (the deepest that holds it), or None."""
        best = None
        for item in self.folders(snap):
            if path.startswith(item.folder + "/") and (
                best is None or len(item.folder) > len(best.folder)
            ):
                best = item
        return best

    def check_path(self, snap: Snapshot, path: str) -> MediaFolder:
        """A path an upload may be written to; else a 422 that says why."""
        if not isinstance(path, str) or not path.strip():
            raise Unprocessable("a media file needs a path", {"path": ["is required"]})
        wrong = Unprocessable(f"{path!r} is not a path a media file may have", {"path": [path]})
        if _UNSAFE.search(path) or path != path.strip() or path.startswith("/"):
            raise wrong
        normal = posixpath.normpath(path)
        parts = normal.split("/")
        if normal != path or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise wrong
        if unicodedata.normalize("NFC", path) != path:
            raise wrong
        if len(parts[-1].encode()) > MAX_NAME_BYTES:
            raise Unprocessable(
                f"the file name is longer than {MAX_NAME_BYTES} bytes", {"path": [path]}
            )
        folder = self.folder_of(snap, path)
        if folder is None:
            names = ", ".join(f.folder for f in self.folders(snap)) or "none configured"
            raise Unprocessable(
                f"{path!r} is not in a media folder of the config ({names})",
                {"path": [path], "media_folders": [f.folder for f in self.folders(snap)]},
            )
        if snap.file_owner(path) or path == snap.model.source:
            raise Unprocessable(f"{path!r} is an entry's file, not a media file", {"path": [path]})
        extension = extension_of(path)
        if extension not in self.rules.types:
            raise Unprocessable(
                f"files of type {extension or '(none)'!r} are not accepted; the accepted types "
                f"are {', '.join(self.rules.types)} (CMS_MEDIA_TYPES)",
                {"path": [path], "types": list(self.rules.types)},
            )
        return folder

    def check_content(self, path: str, data: bytes) -> None:
        if len(data) > self.rules.max_bytes:
            raise PayloadTooLarge(
                f"the file is larger than {self.rules.max_bytes} bytes (CMS_MEDIA_MAX_BYTES)",
                {"limit": self.rules.max_bytes, "size": len(data)},
            )
        if not data:
            raise Unprocessable("the file is empty", {"path": [path]})
        extension = extension_of(path)
        if extension == "svg":
            if not _looks_like_svg(data):
                raise Unprocessable(f"{path!r} is not an SVG image", {"path": [path]})
            return
        signatures = _SIGNATURES.get(extension)
        if signatures and not any(data[at : at + len(s)] == s for at, s in signatures):
            raise Unprocessable(
                f"the content of {path!r} is not a {extension} file", {"path": [path]}
            )

    # -- reads ---------------------------------------------------------------------------------

    def list(self, snap: Snapshot, folder: str | None = None) -> list[MediaFile]:
        """The files directly in a media folder (all media folders when None), by path."""
        folders = self.folders(snap)
        if folder is not None:
            wanted = folder.strip("/")
            folders = [f for f in folders if f.folder == wanted]
            if not folders:
                raise NotFound(
                    f"{folder!r} is not a media folder of the config",
                    {"folder": folder, "media_folders": [f.folder for f in self.folders(snap)]},
                )
        found: list[MediaFile] = []
        for item in folders:
            found.extend(self._list_folder(snap.commit, item))
        return sorted(found, key=lambda m: m.path)

    def _list_folder(self, commit: str, folder: MediaFolder) -> tuple[MediaFile, ...]:
        key = (commit, folder.folder)
        cached = self._listed.get(key)
        if cached is not None:
            return cached
        listed = command.run(
            self.store.path, ["ls-tree", "-l", "-z", commit, "--", folder.folder + "/"]
        )
        files = []
        for record in listed.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, sha, size = meta.split()
            if kind != b"blob" or mode == b"120000":
                continue
            path = name.decode("utf-8", "surrogateescape")
            files.append(self._file(folder, path, sha.decode(), int(size)))
        return self._listed.put(key, tuple(files))

    def _file(self, folder: MediaFolder, path: str, sha: str, size: int) -> MediaFile:
        url = None
        if folder.public is not None:
            url = folder.public + path[len(folder.folder) :]
        return MediaFile(path, sha, size, folder.folder, url)

    def find(self, snap: Snapshot, path: str) -> tuple[MediaFolder, TreeEntry]:
        """A media file's folder and blob at the snapshot's commit; NotFound if none."""
        folder = self.folder_of(snap, path)
        blob = self.store.blob_at(snap.commit, path) if folder is not None else None
        if folder is None or blob is None:
            raise NotFound(f"no media file {path!r}", {"path": path})
        return folder, blob

    def get(self, snap: Snapshot, path: str) -> MediaFile:
        folder, blob = self.find(snap, path)
        size = len(self.store.read_blob(blob.sha))
        return self._file(folder, path, blob.sha, size)

    def locate(self, snap: Snapshot, url_path: str) -> str | None:
        """The repository path served at a public URL path (``/img/a.png``), or None."""
        for item in self.folders(snap):
            if item.public and url_path.startswith(item.public + "/"):
                return item.folder + url_path[len(item.public) :]
        return None

    # -- writes --------------------------------------------------------------------------------

    def stage_upload(
        self, tx, snap: Snapshot, path: str, data: bytes, overwrite: bool = False
    ) -> None:
        """Add an upload to a transaction; 409 when the file exists and ``overwrite`` is off."""
        self.check_path(snap, path)
        self.check_content(path, data)
        if not overwrite and tx.read(path) is not None:
            raise Conflict(f"a media file {path!r} exists; delete it first", {"path": path})
        tx.write(path, data)

    def upload(
        self,
        branch: str,
        path: str,
        data: bytes,
        author: Identity,
        message: str | None = None,
    ) -> tuple[MediaFile, str]:
        """Upload a new file as one commit: (the file, the commit)."""
        snap = self.service.snapshot_at(self.store.resolve_branch(branch))
        self.check_path(snap, path)
        self.check_content(path, data)
        text = message or f"Upload “{path}”"
        with self.store.transaction(branch, text, author, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            self.stage_upload(tx, snap, path, data)
        commit = tx.result.sha
        return self.get(self.service.snapshot_at(commit), path), commit

    def delete(
        self,
        branch: str,
        path: str,
        if_match: Sequence[str] | None,
        author: Identity,
        message: str | None = None,
    ) -> str:
        """Delete a file as one commit, if it is still the version in ``If-Match``."""
        if if_match is None:
            raise PreconditionRequired(
                "send If-Match with the file's version (its ETag) to delete it",
                {"headers": {"If-Match": ["is required"]}},
            )
        text = message or f"Delete “{path}”"
        with self.store.transaction(branch, text, author, self.committer) as tx:
            snap = self.service.snapshot_at(tx.base)
            current = self.get(snap, path)
            if "*" not in if_match and current.version not in if_match:
                raise PreconditionFailed(
                    "the file changed since the version in If-Match; read it again",
                    {"version": current.version},
                )
            tx.delete(path)
        return tx.result.sha


class PayloadTooLarge(Unprocessable):
    """A file larger than the media size limit."""

    status = 413


def _looks_like_svg(data: bytes) -> bool:
    try:
        text = data[:4096].decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return re.search(r"<svg[\s>]", text) is not None
