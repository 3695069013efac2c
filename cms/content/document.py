"""Parsing a content file into its fields and body, keeping the bytes around them.

A file is split, not re-serialised: ``Document`` remembers the exact text of the front matter,
its delimiters and the body, so that a later edit can change one key and leave every other byte
alone. python-frontmatter is not used here: its splitter strips the body and its pattern can
swallow blank lines after the delimiter, both of which break byte-exact round trips, and it
reads YAML 1.1 (PyYAML), where a plain ``yes`` is a boolean and not the string Decap wrote.

YAML is read with YAML 1.2 semantics (a plain ``yes`` stays the string Decap meant) and
timestamps stay the strings the file holds. A file that cannot be parsed is still a Document,
with what could be read and a list of problems; it never raises.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.main import CParser  # None without ruamel.yaml.clib: the pure one reads all
from ruamel.yaml.resolver import VersionedResolver

from cms.model.values import MAX_DEPTH, TooComplex, check_shape, plain

_YAML_OPEN = re.compile(r"---[ \t]*\r?\n")
_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_TOML_OPEN = re.compile(r"\+\+\+[ \t]*\r?\n")
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*(?:\r?\n|\Z)", re.MULTILINE)


class _TextTimestamps(SafeConstructor):
    """A safe constructor that keeps timestamps as the text the file holds."""


_TextTimestamps.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda self, node: self.construct_scalar(node),
)


class _Types(VersionedResolver):
    """ruamel's resolver of implicit types, its table for a YAML version made once: ruamel
    makes it anew for each document."""

    _tables: ClassVar[dict[Any, Any]] = {}

    @property
    def versioned_resolver(self) -> Any:
        version = self.processing_version
        table = self._tables.get(version)
        if table is None:
            table = self._tables[version] = super().versioned_resolver
        return table


def _yaml(allow_duplicates: bool) -> YAML:
    """ruamel's pure loader, one for each document: a ``YAML`` object keeps its reader and
    scanner state while it loads (two threads must not share one), a record of each
    document, and, after a document it refused, every node it had built."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _TextTimestamps
    yaml.Resolver = _Types
    yaml.allow_duplicate_keys = allow_duplicates
    return yaml


if CParser is not None:

    class _LibYaml(CParser, _TextTimestamps, _Types):  # type: ignore[misc, valid-type]
        """One document read by libyaml's parser into ruamel's data (its constructor and
        resolver): the loader ``YAML(typ="safe", pure=False).load`` makes, as a class made
        once. ruamel makes the class anew for each document, and a ``YAML`` object keeps a
        record of each document it loaded: two thirds of a parse, and a leak."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            self._parser = self._composer = self
            _TextTimestamps.__init__(self, loader=self)
            self.allow_duplicate_keys = False
            _Types.__init__(self, loadumper=self)

        @property
        def processing_version(self) -> Any:
            # What ruamel's property finds for this loader, through two caught exceptions
            # for each scalar: libyaml's parser gives it no version, so YAML 1.2.
            return (1, 2)

        @classmethod
        def load(cls, text: str) -> Any:
            loader = cls(text)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()

else:  # pragma: no cover - ruamel.yaml.clib is a dependency
    _LibYaml = None


# Where libyaml's scanner (YAML 1.1) and ruamel's (1.2) may read the same text differently:
# 1.1 breaks lines at these characters, and only ruamel's pure parser needs the tab fix.
_SLOW_TEXT = re.compile("[\t\x85\u2028\u2029]")


def _quick(matter: str) -> tuple[bool, Any]:
    """(True, data) when libyaml's parser (ruamel.yaml.clib, three times as fast) read the
    front matter; (False, None) when it is not installed, refused the text, or the text holds
    characters the two parsers may read differently: the pure parser then reads it, and its
    answer and its messages are the reference. Both build the data with the same constructor
    and resolver (YAML 1.2 types)."""
    if _LibYaml is None or _SLOW_TEXT.search(matter):
        return False, None
    try:
        return True, _LibYaml.load(matter)
    except (YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return False, None


@dataclass
class Document:
    """A parsed file: ``data`` (the fields), ``body``, and the raw text split at the delimiters.

    ``head + matter + tail + body == text`` always holds: ``head`` is the opening delimiter line,
    ``matter`` the front matter, ``tail`` the closing delimiter line.
    """

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    head: str = ""
    matter: str = ""
    tail: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def served_body(self) -> str:
        """The body as the API serves it: without the blank lines that follow the delimiter."""
        return self.body.lstrip("\r\n")


def decode(raw: bytes) -> tuple[str, list[str]]:
    """UTF-8 text of a file (a BOM dropped); invalid bytes become U+FFFD and a problem."""
    try:
        text = raw.decode("utf-8")
        problems: list[str] = []
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        problems = [f"the file is not valid UTF-8 (first bad byte at offset {exc.start})"]
    return text.removeprefix("\ufeff"), problems


def parse(raw: bytes | str, fmt: str = "frontmatter") -> Document:
    """Parse a file in one of Decap's formats (``frontmatter``, ``yaml``, ``json``, ``toml``...)."""
    if isinstance(raw, bytes):
        text, problems = decode(raw)
    else:
        text, problems = raw, []
    if fmt in ("yml", "yaml"):
        doc = Document(text, matter=text)
        doc.data = _load_yaml(text, 0, doc.problems)
    elif fmt == "json":
        doc = Document(text, matter=text)
        doc.data = _load_json(text, doc.problems)
    elif fmt == "toml":
        doc = Document(text, matter=text)
        doc.data = _load_toml(text, doc.problems)
    else:
        doc = _parse_front_matter(text, fmt)
    doc.problems[:0] = problems
    return doc


def _parse_front_matter(text: str, fmt: str) -> Document:
    if fmt != "json-frontmatter":
        for opener, closer, loader in (
            (_YAML_OPEN, _YAML_CLOSE, "yaml"),
            (_TOML_OPEN, _TOML_CLOSE, "toml"),
        ):
            if fmt == "toml-frontmatter" and loader == "yaml":
                continue
            opened = opener.match(text)
            if not opened:
                continue
            closed = closer.search(text, opened.end())
            if closed is None:
                return Document(
                    text,
                    body=text,
                    problems=["the front matter has no closing delimiter; read as body"],
                )
            doc = Document(
                text,
                head=text[: opened.end()],
                matter=text[opened.end() : closed.start()],
                tail=closed.group(),
                body=text[closed.end() :],
            )
            if loader == "yaml":
                doc.data = _load_yaml(doc.matter, 1, doc.problems)
            else:
                doc.data = _load_toml(doc.matter, doc.problems)
            return doc
    if text.startswith("{"):
        end = _json_object_end(text)
        if end is not None:
            doc = Document(text, matter=text[:end], body=text[end:])
            doc.data = _load_json(doc.matter, doc.problems)
            return doc
    return Document(text, body=text)


def _json_object_end(text: str) -> int | None:
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except RecursionError:
        return _deep_json_end(text)
    except ValueError:
        return None
    return end


def _deep_json_end(text: str) -> int | None:
    """Where a JSON object too deep for the parser ends (brackets counted outside strings),
    so that it is still told apart from the body and reported as too deep."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
            if depth == 0:
                return match.end()
    return None


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def _load_yaml(matter: str, line_offset: int, problems: list[str]) -> dict[str, Any]:
    if not matter.strip():
        return {}
    try:
        read, data = _quick(matter)
        if not read:
            data = _load(False, matter)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1 + line_offset}: " if mark else ""
        problems.append(f"{where}{exc.problem}".replace("found duplicate key", "duplicate key"))
        return _load_yaml_lenient(matter, problems)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1 + line_offset}: " if mark else ""
        problems.append(f"invalid YAML front matter: {where}{exc.problem or exc.context}")
        return {}
    except YAMLError as exc:
        problems.append(f"invalid YAML front matter: {str(exc).splitlines()[0]}")
        return {}
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # The loader itself fails on a few odd scalars (ruamel reads `-_` as an int and then
        # cannot convert it): the file is still served, with the problem named.
        problems.append(f"invalid YAML front matter: {type(exc).__name__}: {exc}")
        return {}
    return _mapping(data, problems)


MAX_TAB_FIXES = 100


def _load(allow_duplicates: bool, matter: str) -> Any:
    """The matter read by ruamel's pure parser, a tab after a plain value (``- melody<TAB>``)
    read as libyaml and Decap's parser read it, as trailing white space: ruamel refuses it.
    Only the lines ruamel refuses, and only when nothing but white space follows the tab,
    are read so."""
    for _ in range(MAX_TAB_FIXES):
        try:
            return _yaml(allow_duplicates).load(matter)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark
            if mark is None or "'\\t'" not in str(exc.problem):
                raise
            lines = matter.splitlines(keepends=True)
            if mark.line >= len(lines):
                raise
            line = lines[mark.line]
            content = line.rstrip("\r\n")
            if content[mark.column :].strip(" \t"):
                raise  # the tab is followed by a value: a real error
            lines[mark.line] = content.rstrip(" \t") + line[len(content) :]
            matter = "".join(lines)
    return _yaml(allow_duplicates).load(matter)


def _load_yaml_lenient(matter: str, problems: list[str]) -> dict[str, Any]:
    """Read a mapping with duplicate keys (the first value wins), as much as can be read."""
    try:
        return _mapping(_load(True, matter), problems)
    except (YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        problems.append(f"invalid YAML front matter: {str(exc).splitlines()[0]}")
        return {}


def _load_json(text: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except RecursionError:
        problems.append(f"the front matter is not read: nested more than {MAX_DEPTH} levels deep")
        return {}
    except ValueError as exc:
        problems.append(f"invalid JSON: {exc}")
        return {}
    return _mapping(data, problems)


def _load_toml(text: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except RecursionError:
        problems.append(f"the front matter is not read: nested more than {MAX_DEPTH} levels deep")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"invalid TOML: {exc}")
        return {}
    return _mapping(data, problems)


def _mapping(data: Any, problems: list[str]) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append("the front matter is not a mapping of fields")
        return {}
    try:
        check_shape(data)
    except TooComplex as exc:
        problems.append(f"the front matter is not read: {exc}")
        return {}
    return plain(data)
