"""Loading a site's Decap CMS ``config.yml`` into the content model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from cms.errors import ConfigError
from cms.model.collection import Collection, build_collection
from cms.model.fields import line_of
from cms.model.i18n import read_i18n
from cms.model.widgets import RelationWidget


@dataclass(frozen=True)
class SlugOptions:
    """Decap's top-level ``slug`` settings, used when a slug is derived from a title."""

    encoding: str = "unicode"
    clean_accents: bool = False
    sanitize_replacement: str = "-"


@dataclass(frozen=True)
class UnknownWidgetUse:
    collection: str
    field: str
    widget: str
    line: int | None


@dataclass(frozen=True)
class DeprecatedOption:
    collection: str
    field: str
    option: str
    line: int | None


@dataclass(frozen=True)
class Model:
    source: str
    collections: dict[str, Collection]
    slug: SlugOptions = field(default_factory=SlugOptions)
    media_folder: str | None = None
    public_folder: str | None = None
    unknown_widgets: tuple[UnknownWidgetUse, ...] = ()
    commit_messages: dict[str, str] = field(default_factory=dict)
    deprecated_options: tuple[DeprecatedOption, ...] = ()

    def collection(self, name: str) -> Collection | None:
        return self.collections.get(name)


def load_model(text: str | bytes, source: str) -> Model:
    """Parse a Decap config. Anything wrong raises ConfigError naming the file and the line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(source, f"not valid UTF-8 (byte {exc.start})") from None
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(source, problem, mark.line + 1 if mark else None) from None
    except YAMLError as exc:
        raise ConfigError(source, str(exc).splitlines()[0]) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise ConfigError(source, f"cannot be read as YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(source, "the config must be a mapping with `collections`", 1)
    collections_raw = raw.get("collections")
    if not isinstance(collections_raw, list) or not collections_raw:
        raise ConfigError(source, "`collections` must be a non-empty list", line_of(raw))
    top_i18n = read_i18n(raw.get("i18n"), None, source, "the top level", line_of(raw))
    collections: dict[str, Collection] = {}
    for item in collections_raw:
        collection = build_collection(item, source, top_i18n)
        if collection.name in collections:
            raise ConfigError(
                source, f"two collections are named {collection.name!r}", collection.line
            )
        collections[collection.name] = collection
    _check_relations(collections, source)
    return Model(
        source=source,
        collections=collections,
        slug=_slug_options(raw.get("slug"), source, line_of(raw)),
        media_folder=raw.get("media_folder"),
        public_folder=raw.get("public_folder"),
        unknown_widgets=tuple(_unknown_widgets(collections)),
        commit_messages=_commit_messages(raw.get("backend")),
        deprecated_options=tuple(_deprecated_options(collections)),
    )


# Decap's default commit messages (its `commitMessageFormatter`); `backend.commit_messages`
# in the config overrides any of them.
DEFAULT_COMMIT_MESSAGES = {
    "create": "Create {{collection}} “{{slug}}”",
    "update": "Update {{collection}} “{{slug}}”",
    "delete": "Delete {{collection}} “{{slug}}”",
}


def _commit_messages(backend: Any) -> dict[str, str]:
    messages = dict(DEFAULT_COMMIT_MESSAGES)
    if isinstance(backend, Mapping) and isinstance(backend.get("commit_messages"), Mapping):
        for key, value in backend["commit_messages"].items():
            if isinstance(value, str):
                messages[str(key)] = value
    return messages


def _slug_options(raw: Any, source: str, line: int | None) -> SlugOptions:
    if raw is None:
        return SlugOptions()
    if not isinstance(raw, Mapping):
        raise ConfigError(source, "`slug` must be a mapping", line)
    encoding = str(raw.get("encoding", "unicode"))
    if encoding not in ("unicode", "ascii"):
        raise ConfigError(source, f"slug encoding must be unicode or ascii, not {encoding!r}", line)
    replacement = str(raw.get("sanitize_replacement", "-"))
    return SlugOptions(encoding, bool(raw.get("clean_accents", False)), replacement)


def _check_relations(collections: dict[str, Collection], source: str) -> None:
    for collection in collections.values():
        for fields in collection.all_fields():
            for dotted, item in fields.walk():
                widget = item.widget
                if isinstance(widget, RelationWidget) and widget.collection not in collections:
                    raise ConfigError(
                        source,
                        f"field {dotted!r} of {collection.name!r} relates to an unknown "
                        f"collection {widget.collection!r}",
                        item.line,
                    )
                if isinstance(widget, RelationWidget) and widget.file is not None:
                    target = collections[widget.collection]
                    if target.kind != "files" or widget.file not in target.files:
                        raise ConfigError(
                            source,
                            f"field {dotted!r} of {collection.name!r} relates to file "
                            f"{widget.file!r}, which collection {widget.collection!r} lacks",
                            item.line,
                        )


def _deprecated_options(collections: dict[str, Collection]) -> list[DeprecatedOption]:
    found = []
    for collection in collections.values():
        for fields in collection.all_fields():
            for dotted, item in fields.walk():
                for option in item.deprecated:
                    found.append(DeprecatedOption(collection.name, dotted, option, item.line))
    return found


def _unknown_widgets(collections: dict[str, Collection]) -> list[UnknownWidgetUse]:
    found = []
    for collection in collections.values():
        for fields in collection.all_fields():
            for dotted, item in fields.walk():
                if not item.known:
                    found.append(
                        UnknownWidgetUse(collection.name, dotted, item.widget_name, item.line)
                    )
    return found
