"""The read use cases: collections, entries and lists at one commit of the content repository.

``ContentService.snapshot(ref)`` resolves a ref to one commit and loads the content model that
commit holds; every answer of that ``Snapshot`` comes from that commit and says so. Parsed
entries are cached by (config blob, collection, blob sha): a file that did not change is parsed
once, whatever commit or branch it is read at.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from cms.content.document import parse
from cms.content.entry import Entry, EntryProblem
from cms.content.parsed import Documents, Parsed
from cms.content.render import render_markdown
from cms.errors import BadRequest, ConfigError, NotFound
from cms.model import Collection, Model, load_model
from cms.model.i18n import NONE, I18n
from cms.model.problems import format_path
from cms.model.widgets import FILE_SLUG
from cms.storage import GitStore
from cms.storage.git import TreeEntry
from cms.storage.lru import LRU

MAX_SLUG_LENGTH = 512


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def relation_key(value: Any) -> str:
    """Relation values match after Unicode normalisation and trimming (``"Adnène "``)."""
    return nfc(str(value)).strip()


@dataclass(frozen=True)
class Snapshot:
    """The content at one commit: its model, collections and entries."""

    service: ContentService
    commit: str
    model: Model
    config_sha: str

    def collection(self, name: str) -> Collection:
        collection = self.model.collection(name)
        if collection is None:
            raise NotFound(f"no collection named {name!r}", {"collection": name})
        return collection

    def collections(self) -> list[Collection]:
        return list(self.model.collections.values())

    def owners(self, path: str) -> list[tuple[Collection, str]]:
        """(collection, slug) for each collection whose entries include this file (usually
        one, or none)."""
        found = []
        for collection in self.model.collections.values():
            slug = collection.slug_for_path(path)
            if slug is not None:
                found.append((collection, slug))
        return found

    def file_owner(self, path: str) -> tuple[Collection, str, str | None] | None:
        """(collection, slug, locale) of the entry whose file, in any locale, is at ``path``."""
        for collection in self.model.collections.values():
            found = collection.locale_file(path)
            if found is not None:
                return collection, *found
        return None

    # -- entries ------------------------------------------------------------------------------

    def files(self, collection: Collection) -> list[tuple[str, TreeEntry]]:
        """(slug, blob) of each file of the collection at this commit, in a stable order."""
        store = self.service.store
        if collection.kind == "files":
            found = []
            for item in collection.files.values():
                blob = store.blob_at(self.commit, item.path)
                if blob is not None:
                    found.append((item.name, blob))
            return found
        listed = store.list_tree(self.commit, collection.folder, collection.tree_depth)
        found = []
        for blob in listed:
            slug = collection.slug_for_path(blob.path)
            if slug is not None:
                found.append((slug, blob))
        found.sort(key=lambda pair: pair[0])
        return found

    def entries(self, collection: Collection) -> list[Entry]:
        """Every entry of a collection (its ``filter`` applied), without history."""
        entries = [self._entry(collection, slug, blob) for slug, blob in self.files(collection)]
        if collection.filter is not None:
            entries = [e for e in entries if collection.filter.accepts(e.fields)]
        return entries

    def entry(self, collection: Collection, slug: str, history: bool = True) -> Entry:
        """One entry, with (unless ``history`` is False) the last commit that changed it."""
        wanted = nfc(slug)
        blob = self._find(collection, wanted)
        missing = NotFound(
            f"no entry {slug!r} in collection {collection.name!r}",
            {"collection": collection.name, "slug": slug},
        )
        if blob is None:
            raise missing
        entry = self._entry(collection, collection.slug_for_path(blob.path) or wanted, blob)
        if collection.filter is not None and not collection.filter.accepts(entry.fields):
            raise missing
        return self.with_history([entry])[0] if history else entry

    def _find(self, collection: Collection, slug: str) -> TreeEntry | None:
        """The file of a slug: looked up by its path (a slug that does not map back to the
        same path is no entry), then, for a name git may hold in another Unicode form, by
        listing the folder."""
        if (
            len(slug) > MAX_SLUG_LENGTH
            or "\x00" in slug
            or (not slug and collection.kind != "folder")
        ):
            return None
        if collection.kind == "files":
            item = collection.file_for(slug)
            return self.service.store.blob_at(self.commit, item.path) if item else None
        path = collection.path_for(slug)
        if collection.slug_for_path(path) != slug:
            return None
        blob = self.service.store.blob_at(self.commit, path)
        if blob is not None or slug.isascii():
            return blob
        for candidate, listed in self.files(collection):
            if candidate == slug:
                return listed
        return None

    def _entry(self, collection: Collection, slug: str, blob: TreeEntry) -> Entry:
        key = (self.config_sha, collection.name, slug, blob.sha)
        cached = self.service.entries.get(key)
        if cached is None:
            cached = self.service.entries.put(key, self._parse(collection, slug, blob))
        return replace(cached, commit=self.commit) if cached.commit != self.commit else cached

    def _parse(self, collection: Collection, slug: str, blob: TreeEntry) -> Entry:
        parsed = self.service.parsed(blob.sha, collection.format_for(slug))
        return self.build_entry(collection, slug, blob.path, blob.sha, parsed)

    def build_entry(
        self, collection: Collection, slug: str, path: str, version: str, parsed: Parsed
    ) -> Entry:
        """An entry from its parsed file, checked against the collection's fields. With i18n,
        the default locale's values (a single_file entry's ``{<locale>: ...}`` key)."""
        problems = [EntryProblem(None, message) for message in parsed.problems]
        i18n = collection.i18n_for(slug)
        data, body, locale = default_view(i18n, parsed.data, parsed.body)
        if (
            i18n is not None
            and i18n.structure == "single_file"
            and i18n.default not in parsed.data
            and not parsed.problems
        ):
            problems.append(EntryProblem(None, f"no values for the locale {i18n.default!r}"))
        problems += check_problems(collection, slug, data, body)
        return Entry(
            collection=collection.name,
            slug=slug,
            path=path,
            version=version,
            fields=data,
            body=body,
            locale=locale,
            problems=tuple(problems),
            commit=self.commit,
        )

    def as_read(self, entries: list[Entry]) -> list[Entry]:
        """Entries built from their parsed files alone (the index's), as ``build_entry``
        gives them: with i18n, in the default locale (a single_file entry's key)."""
        out = []
        for entry in entries:
            i18n = self.model.collections[entry.collection].i18n_for(entry.slug)
            if i18n is not None and entry.locale is None:
                fields, body, locale = default_view(i18n, entry.fields, entry.body)
                entry = replace(entry, fields=fields, body=body, locale=locale)
            out.append(entry)
        return out

    def localized(self, collection: Collection, entry: Entry, locale: str | None) -> Entry:
        """The entry in ``locale``: its translated fields from that locale's values, the
        others (``i18n: none``) from the default locale's. NotFound when the entry has no
        values in that locale; BadRequest for a locale the collection does not have."""
        i18n = collection.i18n_for(entry.slug)
        if locale is None or (i18n is not None and locale == i18n.default):
            return entry
        if i18n is None or locale not in i18n.locales:
            known = ", ".join(i18n.locales) if i18n else "none: it has one language"
            raise BadRequest(
                f"collection {collection.name!r} has no locale {locale!r} ({known})",
                {"query": {"locale": f"one of {known}"}},
            )
        missing = NotFound(
            f"entry {entry.slug!r} of {collection.name!r} has no {locale!r} version",
            {"collection": collection.name, "slug": entry.slug, "locale": locale},
        )
        store = self.service.store
        fmt = collection.format_for(entry.slug)
        if i18n.structure == "single_file":
            parsed = self.service.parsed(entry.version, fmt)
            if locale not in parsed.data:
                raise missing
            values, body = locale_values(parsed.data, locale, parsed.body)
            path, version = entry.path, entry.version
        else:
            path = collection.path_for(entry.slug, locale)
            blob = store.blob_at(self.commit, path)
            if blob is None:
                raise missing
            parsed = self.service.parsed(blob.sha, fmt)
            values, body, version = parsed.data, parsed.body, blob.sha
        fields, body = merge_locale(collection.fields_for(entry.slug), entry, values, body)
        problems = [EntryProblem(None, message) for message in parsed.problems]
        problems += check_problems(collection, entry.slug, fields, body)
        return replace(
            entry,
            path=path,
            version=version,
            fields=fields,
            body=body,
            locale=locale,
            problems=tuple(problems),
        )

    def localized_or_default(
        self, collection: Collection, entry: Entry, locale: str | None
    ) -> Entry:
        """The entry in ``locale``, or in the default locale if it has no values in that one
        (its ``locale`` says which); BadRequest for a locale the collection lacks."""
        try:
            return self.localized(collection, entry, locale)
        except NotFound:
            return entry

    def with_history(self, entries: list[Entry]) -> list[Entry]:
        """The entries with ``updated_at``/``updated_by`` from the last commit that touched them."""
        changes = self.service.store.last_changes(self.commit, [e.path for e in entries])
        return [e.at(self.commit, changes.get(e.path)) for e in entries]

    def render(self, entry: Entry) -> str:
        key = ("html", entry.version)
        cached = self.service.html.get(key)
        if cached is None:
            cached = self.service.html.put(key, render_markdown(entry.body))
        return cached

    def relation_table(
        self, collection_name: str, value_field: str, file: str | None = None
    ) -> dict[str, Entry]:
        """Each value of ``value_field`` in a collection (as a relation key), with the first
        entry that holds it. ``FILE_SLUG`` (Decap's ``{{slug}}``) is each entry's file slug;
        ``file`` keeps only that file of a files collection."""
        target = self.collection(collection_name)
        table: dict[str, Entry] = {}
        for entry in self.entries(target):
            if file is not None and entry.slug != file:
                continue
            values = [entry.slug] if value_field == FILE_SLUG else entry.field_values(value_field)
            for value in values:
                table.setdefault(relation_key(value), entry)
        return table


def entry_weight(entry: Entry) -> int:
    """Roughly the bytes an entry holds in memory: its body and fields as text, and a little
    for the object itself."""
    fields = json.dumps(entry.fields, ensure_ascii=False, separators=(",", ":"), default=str)
    return 512 + len(entry.body) + len(fields)


def check_problems(
    collection: Collection, slug: str, fields: dict[str, Any], body: str
) -> list[EntryProblem]:
    """How an entry's fields and body break the collection's model."""
    found: list[EntryProblem] = []
    has_body = collection.fields_for(slug).body is not None
    collection.check(
        slug,
        fields,
        body if has_body else None,
        lambda at, message: found.append(EntryProblem(format_path(at), message)),
    )
    return found


def default_view(
    i18n: I18n | None, data: dict[str, Any], body: str
) -> tuple[dict[str, Any], str, str | None]:
    """A parsed file's fields, body and locale as an entry reads them: with i18n, the default
    locale's (a single_file entry's key)."""
    if i18n is None:
        return data, body, None
    if i18n.structure == "single_file":
        data, body = locale_values(data, i18n.default, body)
    return data, body, i18n.default


def locale_values(data: dict[str, Any], locale: str, body: str) -> tuple[dict[str, Any], str]:
    """A single_file entry's values in one locale, and its body (kept under ``body`` in each
    locale's values, or the file's own body)."""
    values = data.get(locale)
    values = dict(values) if isinstance(values, dict) else {}
    inner_body = values.pop("body", None)
    return values, inner_body if isinstance(inner_body, str) else body


def merge_locale(
    definition: Any, default: Entry, values: dict[str, Any], body: str
) -> tuple[dict[str, Any], str]:
    """One locale's view of an entry: each field the model translates (``i18n: true`` or
    ``duplicate``) from that locale's values, the others from the default locale's."""
    merged: dict[str, Any] = {}
    for item in definition.fields:
        source = values if item.i18n != NONE else default.fields
        if item.name in source:
            merged[item.name] = source[item.name]
    known = {item.name for item in definition.fields}
    for key, value in values.items():
        if key not in known and key != "body":
            merged[key] = value
    body_field = definition.body
    translated_body = body_field is not None and body_field.i18n != NONE
    return merged, body if translated_body else default.body


class ContentService:
    """Snapshots of one repository, with the caches they share."""

    def __init__(
        self, store: GitStore, config_path: str, documents: Documents | None = None
    ) -> None:
        self.store = store
        self.documents = documents
        self.config_path = config_path.strip("/")
        self.models: LRU[str, Model] = LRU(16)
        # At most 50,000 parsed entries and 128 MB of their bodies and fields.
        self.entries: LRU[tuple[str, str, str, str], Entry] = LRU(
            50_000, max_bytes=128 << 20, weigh=entry_weight
        )
        self.html: LRU[tuple[str, str], str] = LRU(2_000, max_bytes=32 << 20, weigh=len)
        self.snapshots: LRU[str, Snapshot] = LRU(256)

    def parsed(self, blob: str, fmt: str) -> Parsed:
        """A file's parse, from the parse cache when there is one."""
        if self.documents is not None:
            return self.documents.get(blob, fmt)
        document = parse(self.store.read_blob(blob), fmt)
        return Parsed(document.data, document.served_body, tuple(document.problems))

    def snapshot(self, ref: str | None = None) -> Snapshot:
        commit = self.store.resolve(ref)
        return self.snapshot_at(commit)

    def snapshot_at(self, commit: str) -> Snapshot:
        cached = self.snapshots.get(commit)
        if cached is not None:
            return cached
        blob = self.store.blob_at(commit, self.config_path)
        if blob is None:
            raise ConfigError(self.config_path, f"no such file at commit {commit[:12]}")
        model = self.models.get(blob.sha)
        if model is None:
            model = self.models.put(
                blob.sha, load_model(self.store.read_blob(blob.sha), self.config_path)
            )
        return self.snapshots.put(commit, Snapshot(self, commit, model, blob.sha))
