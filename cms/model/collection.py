"""Collections of the content model: folder collections (one file per entry) and file collections
(a fixed list of named files), each with the fields of its entries."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cms.errors import ConfigError
from cms.model.fields import Field, check_unique, line_of
from cms.model.i18n import I18n, read_i18n
from cms.model.values import plain
from cms.model.widgets import Report

# Decap's formats, and the format an extension implies when a collection names none.
FORMATS = {
    "frontmatter",
    "yaml-frontmatter",
    "toml-frontmatter",
    "json-frontmatter",
    "yml",
    "yaml",
    "toml",
    "json",
}
EXTENSION_FORMATS = {"md": "frontmatter", "markdown": "frontmatter", "mdx": "frontmatter"}
EXTENSION_FORMATS.update({"yml": "yml", "yaml": "yaml", "toml": "toml", "json": "json"})
_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
_LOCALE = re.compile(r"\{\{\s*locale\s*\}\}")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def safe_relative(path: str, source: str, what: str, line: int | None) -> str:
    """A repository-relative POSIX path with no ``..``, no leading ``/`` and no ``.git``."""
    cleaned = posixpath.normpath(path.strip().strip("/")) if path.strip().strip("/") else ""
    parts = cleaned.split("/") if cleaned else []
    if path.strip().startswith("/") and not cleaned:
        return ""
    if cleaned == "." or any(part in ("..", ".git") for part in parts) or "\x00" in path:
        raise ConfigError(source, f"{what} {path!r} must stay inside the repository", line)
    return "" if cleaned == "." else cleaned


@dataclass(frozen=True)
class Fields:
    """The fields of one kind of entry; a field named ``body`` holds the text after the matter."""

    fields: tuple[Field, ...]
    body: Field | None

    @classmethod
    def build(cls, raw: Any, source: str, line: int | None, owner: str) -> Fields:
        if not isinstance(raw, list) or not raw:
            raise ConfigError(source, f"{owner} needs a non-empty `fields` list", line)
        built = tuple(Field(item, source) for item in raw)
        check_unique(built, source, line)
        body = next((f for f in built if f.name == "body"), None)
        return cls(tuple(f for f in built if f.name != "body"), body)

    def check(self, data: Mapping[str, Any], body: str | None, report: Report) -> None:
        for item in self.fields:
            item.check(data.get(item.name), item.name in data, (item.name,), report)
        if self.body is not None:
            self.body.check(body, body is not None and body.strip() != "", ("body",), report)

    def walk(self) -> Iterator[tuple[str, Field]]:
        for item in self.fields:
            yield from item.walk()

    def at(self, dotted: str) -> Field | None:
        """The field at a dotted path (``hero.btn.url``), through objects and lists of objects."""
        for name, item in self.walk():
            if name == dotted:
                return item
        return None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
        }
        required = [f.name for f in self.fields if f.required and f.widget.missing_is_empty()]
        if required:
            schema["required"] = required
        return schema

    def describe(self) -> list[dict[str, Any]]:
        described = [f.describe() for f in self.fields]
        if self.body is not None:
            described.append(self.body.describe())
        return described


@dataclass(frozen=True)
class CollectionFile:
    """One named file of a file collection."""

    name: str
    label: str
    path: str  # the default locale's, with i18n
    format: str
    fields: Fields
    template: str = ""  # the `file` as the config writes it (`{{locale}}` in it, with i18n)
    i18n: bool = False  # Decap localizes a file of a file collection only with `i18n: true`

    def path_in(self, locale: str) -> str:
        return _LOCALE.sub(locale, self.template) if self.template else self.path


@dataclass(frozen=True)
class EntryFilter:
    """Decap's collection ``filter``: only the files whose ``field`` has ``value`` (or matches
    ``pattern``) belong to the collection."""

    field: str
    value: Any = None
    pattern: re.Pattern[str] | None = None

    def accepts(self, data: Mapping[str, Any]) -> bool:
        value: Any = data
        for part in self.field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if self.pattern is not None:
            return value is not None and bool(self.pattern.search(str(value)))
        if isinstance(self.value, list):
            return value in self.value
        return value == self.value


@dataclass(frozen=True)
class Collection:
    name: str
    label: str
    label_singular: str
    description: str | None
    kind: str  # "folder" or "files"
    create: bool
    delete: bool
    line: int | None
    # folder collections
    folder: str = ""
    extension: str = "md"
    format: str = "frontmatter"
    slug: str = "{{slug}}"
    path: str | None = None
    depth: int = 1
    identifier_field: str = "title"
    filter: EntryFilter | None = None
    fields: Fields | None = None
    sortable_fields: tuple[str, ...] = ()
    summary: str | None = None
    # Problems of the config that leave the collection readable: what they forbid is refused.
    problems: tuple[str, ...] = ()
    # Decap's options for its editor's list view (view_filters, view_groups, index_file,
    # meta), shown to clients as the config holds them.
    view: dict[str, Any] = field(default_factory=dict)
    # Decap's i18n: the locales and where each one's values are (None: one language).
    i18n: I18n | None = None
    # file collections
    files: dict[str, CollectionFile] = field(default_factory=dict)
    # Where the collection's own uploads go (Decap's collection-level options; None: the
    # site's), as the config writes them: relative to the entries' folder unless they start
    # with `/`, and possibly templated (`{{slug}}`).
    media_folder: str | None = None
    public_folder: str | None = None

    # -- entries and their paths ---------------------------------------------------------------

    def slug_for_path(self, path: str) -> str | None:
        """The slug of the entry stored at a repository path, or None if the path holds none."""
        if self.kind == "files":
            for item in self.files.values():
                if item.path == path:
                    return item.name
            return None
        return self._slug_in(path, self.i18n.default if self.i18n else None)

    def locale_file(self, path: str) -> tuple[str, str | None] | None:
        """(slug, locale) of the entry whose file, in some locale, is at ``path`` (the
        locale is None without i18n); None if the path holds no entry's file."""
        slug = self.slug_for_path(path)
        if slug is not None:
            return slug, self.i18n.default if self.i18n else None
        if self.i18n is None:
            return None
        for locale in self.i18n.locales:
            if self.kind == "files":
                for item in self.files.values():
                    if item.i18n and item.path_in(locale) == path:
                        return item.name, locale
            elif self.i18n.structure != "single_file":
                found = self._slug_in(path, locale)
                if found is not None:
                    return found, locale
        return None

    def _slug_in(self, path: str, locale: str | None) -> str | None:
        prefix, suffix = self._around(locale)
        if not path.startswith(prefix) or not path.endswith(suffix):
            return None
        inner = path[len(prefix) : len(path) - len(suffix)]
        if inner == "" and self.path is None:
            return ""  # Decap's file of an entry whose slug field was empty (`redirects/.json`)
        parts = inner.split("/")
        if not inner or any(not p or p.startswith(".") for p in parts) or len(parts) > self.depth:
            return None
        if self.path is None:
            return nfc(inner)
        match = self._path_regex().fullmatch(inner)
        return nfc(match.group("slug")) if match else None

    def _path_regex(self) -> re.Pattern[str]:
        template = self.path or "{{slug}}"
        placeholders = list(_PLACEHOLDER.finditer(template))
        first, last = placeholders[0], placeholders[-1]
        head = re.escape(template[: first.start()])
        tail = re.escape(template[last.end() :])
        return re.compile(f"{head}(?P<slug>.+?){tail}")

    def _around(self, locale: str | None) -> tuple[str, str]:
        """What comes before and after an entry's inner path in its file's path, for one
        locale of a multiple_folders or multiple_files collection."""
        prefix = f"{self.folder}/" if self.folder else ""
        suffix = f".{self.extension}"
        if locale is not None and self.i18n is not None:
            if self.i18n.structure == "multiple_folders":
                prefix = f"{prefix}{locale}/"
            elif self.i18n.structure == "multiple_files":
                suffix = f".{locale}{suffix}"
        return prefix, suffix

    def path_for(self, slug: str, locale: str | None = None) -> str:
        """The repository path of the entry with this slug (the inverse of slug_for_path); with
        i18n, of its file in ``locale`` (default: the default locale's)."""
        if self.kind == "files":
            return self.files[slug].path_in(locale) if locale else self.files[slug].path
        inner = slug
        if self.path is not None:
            placeholders = list(_PLACEHOLDER.finditer(self.path))
            inner = (
                self.path[: placeholders[0].start()] + slug + self.path[placeholders[-1].end() :]
            )
        default = self.i18n.default if self.i18n else None
        prefix, suffix = self._around(locale or default)
        return f"{prefix}{inner}{suffix}"

    def locale_paths(self, slug: str) -> dict[str, str]:
        """Each locale's file of an entry (one file for all of them with single_file)."""
        i18n = self.i18n_for(slug)
        if i18n is None:
            return {}
        return {locale: self.path_for(slug, locale) for locale in i18n.locales}

    def i18n_for(self, slug: str) -> I18n | None:
        """The i18n of an entry: the collection's, for a file of a file collection only when
        that file says ``i18n: true`` too (as in Decap)."""
        if self.i18n is None or self.kind == "folder":
            return self.i18n
        item = self.files.get(slug)
        return self.i18n if item is not None and item.i18n else None

    @property
    def tree_depth(self) -> int:
        """How deep below the folder the default locale's files are."""
        extra = self.i18n is not None and self.i18n.structure == "multiple_folders"
        return self.depth + 1 if extra else self.depth

    @property
    def nested(self) -> bool:
        """Whether slugs may hold '/' (nested folders)."""
        return self.kind == "folder" and self.depth > 1 and self.path is None

    def file_for(self, slug: str) -> CollectionFile | None:
        return self.files.get(slug) if self.kind == "files" else None

    def fields_for(self, slug: str) -> Fields:
        if self.kind == "files":
            return self.files[slug].fields
        assert self.fields is not None
        return self.fields

    def format_for(self, slug: str) -> str:
        return self.files[slug].format if self.kind == "files" else self.format

    def all_fields(self) -> Iterator[Fields]:
        if self.fields is not None:
            yield self.fields
        for item in self.files.values():
            yield item.fields

    def field_at(self, dotted: str) -> Field | None:
        for fields in self.all_fields():
            found = fields.at(dotted)
            if found is not None:
                return found
        return None

    def check(self, slug: str, data: Mapping[str, Any], body: str | None, report: Report) -> None:
        self.fields_for(slug).check(data, body, report)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "label_singular": self.label_singular,
            "description": self.description,
            "kind": self.kind,
            "create": self.create,
            "delete": self.delete,
            "i18n": self.i18n.describe() if self.i18n else None,
        }
        if self.kind == "folder":
            assert self.fields is not None
            out.update(
                folder=self.folder,
                extension=self.extension,
                format=self.format,
                slug=self.slug,
                path=self.path,
                identifier_field=self.identifier_field,
                sortable_fields=list(self.sortable_fields),
                problems=list(self.problems),
                **self.view,
                fields=self.fields.describe(),
                files=None,
            )
        else:
            out["fields"] = None
            out["files"] = [
                {
                    "name": f.name,
                    "label": f.label,
                    "file": f.path,
                    "fields": f.fields.describe(),
                }
                for f in self.files.values()
            ]
        return out

    def schema(self) -> dict[str, Any]:
        """A JSON Schema (2020-12) of the ``fields`` object of this collection's entries."""
        base = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.label_singular,
        }
        if self.kind == "folder":
            assert self.fields is not None
            return {**base, **self.fields.schema()}
        variants = {name: f.fields.schema() for name, f in self.files.items()}
        return {**base, "oneOf": list(variants.values()), "x-files": variants}


def build_collection(raw: Any, source: str, top_i18n: I18n | None = None) -> Collection:
    line = line_of(raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(source, "a collection must be a mapping", line)
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ConfigError(
            source, f"a collection needs a `name` of letters, digits, - or _ (got {name!r})", line
        )
    label = str(raw.get("label", name))
    common: dict[str, Any] = {
        "name": name,
        "label": label,
        "label_singular": str(raw.get("label_singular", label)),
        "description": raw.get("description"),
        "line": line,
        "i18n": read_i18n(raw.get("i18n"), top_i18n, source, f"collection {name!r}", line),
        "media_folder": _folder_option(raw, "media_folder", source, name, line),
        "public_folder": _folder_option(raw, "public_folder", source, name, line),
    }
    has_folder, has_files = "folder" in raw, "files" in raw
    if has_folder == has_files:
        raise ConfigError(
            source, f"collection {name!r} needs either `folder` or `files` (not both)", line
        )
    if has_files:
        return _files_collection(raw, source, common)
    return _folder_collection(raw, source, common)


def _folder_option(
    raw: Mapping[str, Any], key: str, source: str, name: str, line: int | None
) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(source, f"collection {name!r}: `{key}` must be a path", line)
    return value


def _folder_collection(raw: Mapping[str, Any], source: str, common: dict[str, Any]) -> Collection:
    name, line = common["name"], common["line"]
    folder_raw = raw.get("folder")
    if not isinstance(folder_raw, str):
        raise ConfigError(source, f"collection {name!r}: `folder` must be a path", line)
    folder = safe_relative(folder_raw, source, f"collection {name!r}: folder", line)
    fmt = raw.get("format")
    extension = raw.get("extension")
    if extension is None:
        extension = {"yml": "yml", "yaml": "yml", "toml": "toml", "json": "json"}.get(fmt, "md")
    extension = str(extension).lstrip(".")
    if fmt is None:
        fmt = EXTENSION_FORMATS.get(extension, "frontmatter")
    if fmt not in FORMATS:
        raise ConfigError(source, f"collection {name!r}: unknown format {fmt!r}", line)
    path = raw.get("path")
    depth = 1
    if path is not None:
        if not isinstance(path, str) or not _PLACEHOLDER.search(path):
            raise ConfigError(
                source, f"collection {name!r}: `path` must be a template with {{{{slug}}}}", line
            )
        safe_relative(_PLACEHOLDER.sub("x", path), source, f"collection {name!r}: path", line)
        depth = path.count("/") + 1
    nested = raw.get("nested")
    if isinstance(nested, Mapping):
        depth = max(depth, int(nested.get("depth", 1)))
    create = raw.get("create", False)
    delete = raw.get("delete", True)
    if not isinstance(create, bool) or not isinstance(delete, bool):
        raise ConfigError(
            source, f"collection {name!r}: `create` and `delete` are true or false", line
        )
    fields = Fields.build(raw.get("fields"), source, line, f"collection {name!r}")
    sortable = raw.get("sortable_fields") or ()
    if isinstance(sortable, Mapping):
        sortable = sortable.get("fields") or ()
    slug, problems = _slug_template(raw, source, name)
    view = {key: plain(raw[key]) for key in VIEW_OPTIONS if raw.get(key) is not None}
    return Collection(
        **common,
        kind="folder",
        create=create,
        delete=delete,
        folder=folder,
        extension=extension,
        format=fmt,
        slug=slug,
        problems=problems,
        view=view,
        path=path,
        depth=depth,
        identifier_field=str(raw.get("identifier_field", "title")),
        filter=_entry_filter(raw.get("filter"), source, name, line),
        fields=fields,
        sortable_fields=tuple(str(s) for s in sortable),
        summary=raw.get("summary"),
    )


# Options of a folder collection that matter to a client as Decap's editor uses them.
VIEW_OPTIONS = ("view_filters", "view_groups", "index_file", "meta")


def _slug_template(raw: Mapping[str, Any], source: str, name: str) -> tuple[str, tuple[str, ...]]:
    """The collection's ``slug`` template, or, when it is not a string (``slug: {{slug}}``
    unquoted is a YAML mapping), the default and a problem naming the line: entries are still
    read, and creating one is refused."""
    template = raw.get("slug", "{{slug}}")
    if isinstance(template, str):
        return template, ()
    position = getattr(getattr(raw, "lc", None), "data", {}).get("slug")
    where = f"{source}, line {position[0] + 1}" if position else source
    return "{{slug}}", (
        f"{where}: the slug template of collection {name!r} is not a string; quote it "
        '(`slug: "{{slug}}"`): unquoted, YAML reads {{...}} as a mapping',
    )


def _entry_filter(raw: Any, source: str, name: str, line: int | None) -> EntryFilter | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("field"), str):
        raise ConfigError(source, f"collection {name!r}: `filter` needs a `field`", line)
    pattern = raw.get("pattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(
                source, f"collection {name!r}: bad filter pattern: {exc}", line
            ) from None
    elif "value" not in raw:
        raise ConfigError(
            source, f"collection {name!r}: `filter` needs a `value` or a `pattern`", line
        )
    return EntryFilter(raw["field"], raw.get("value"), compiled)


def _files_collection(raw: Mapping[str, Any], source: str, common: dict[str, Any]) -> Collection:
    name, line = common["name"], common["line"]
    items = raw.get("files")
    if not isinstance(items, list) or not items:
        raise ConfigError(source, f"collection {name!r}: `files` must be a non-empty list", line)
    files: dict[str, CollectionFile] = {}
    for item in items:
        item_line = line_of(item) or line
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ConfigError(source, f"collection {name!r}: each file needs a `name`", item_line)
        file_name = item["name"]
        if file_name in files:
            raise ConfigError(
                source, f"collection {name!r}: two files are named {file_name!r}", item_line
            )
        if not isinstance(item.get("file"), str):
            raise ConfigError(
                source, f"collection {name!r}: file {file_name!r} needs a `file` path", item_line
            )
        template = safe_relative(item["file"], source, f"file {file_name!r}", item_line)
        i18n = common["i18n"] if item.get("i18n") is True else None
        path = _LOCALE.sub(i18n.default, template) if i18n else template
        extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        fmt = item.get("format") or raw.get("format") or EXTENSION_FORMATS.get(extension)
        if fmt not in FORMATS:
            fmt = "frontmatter"
        files[file_name] = CollectionFile(
            name=file_name,
            label=str(item.get("label", file_name)),
            path=path,
            format=fmt,
            fields=Fields.build(
                item.get("fields"), source, item_line, f"file {file_name!r} of {name!r}"
            ),
            template=template if _LOCALE.search(template) else "",
            i18n=i18n is not None,
        )
    return Collection(
        **common,
        kind="files",
        create=False,
        delete=False,
        files=files,
    )
