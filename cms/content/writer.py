"""Writing entries back to files: a new file in Decap's style, or an edit that changes only the
lines of the keys that changed.

No YAML library re-dumps real front matter byte for byte (folding points, quoting and date
formats differ), so an edit is a splice: each changed key is emitted on its own and replaces
that key's lines in the original text, recursing into nested block mappings so that a change
to ``hero.btn.url`` rewrites that one line. Untouched keys, comments, key order, quoting and
the body's bytes stay as they were. Every result is parsed again and must give exactly the
intended values; if a splice ever fails that check, the front matter is emitted whole instead
(still correct, only a larger diff).

Emitted YAML follows Decap's own output: block style, ``---`` delimiters, two-space indents,
multi-line strings as ``|-`` literal blocks, lines folded at 80 columns, and date-like strings
left plain (this server reads them back as strings, as Decap does).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import LiteralScalarString

from cms.content.document import Document, parse
from cms.errors import Unprocessable

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _PlainDates(VersionedResolver):
    """YAML 1.2 resolution without timestamps: a date-like string needs no quotes."""

    @property
    def versioned_resolver(self) -> Any:
        table = super().versioned_resolver
        return {
            first: [(tag, regexp) for tag, regexp in rules if tag != _TIMESTAMP_TAG]
            for first, rules in table.items()
        }


def _emitter(indent_sequences: bool, width: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.Resolver = _PlainDates
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = width
    if indent_sequences:
        yaml.indent(mapping=2, sequence=4, offset=2)
    else:
        yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _literals(value: Any) -> Any:
    """Multi-line strings as literal blocks, as Decap writes them."""
    if isinstance(value, str) and "\n" in value.rstrip("\n") and not _has_trailing_space(value):
        return LiteralScalarString(value)
    if isinstance(value, dict):
        return {k: _literals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literals(v) for v in value]
    return value


def _has_trailing_space(text: str) -> bool:
    return any(line != line.rstrip(" \t") for line in text.split("\n"))


def dump_mapping(data: dict[str, Any], indent_sequences: bool = True) -> str:
    """Block YAML of a mapping (no delimiters), checked to read back as ``data``."""
    if not data:
        return ""
    for width in (80, 4096):
        stream = io.StringIO()
        _emitter(indent_sequences, width).dump(_literals(data), stream)
        # ruamel ends a document with `...` after a block scalar that keeps its final line
        # breaks; between front-matter delimiters that line would close the front matter.
        text = stream.getvalue().removesuffix("...\n")
        candidates = [_strip_line_ends(text), text] if width == 80 else [text]
        for candidate in candidates:
            if _reads_back(candidate, data):
                return candidate
    raise Unprocessable(
        "these values cannot be written as YAML that reads back the same",
        {"json": {"fields": ["cannot be written as YAML"]}},
    )


def _strip_line_ends(text: str) -> str:
    # ruamel leaves a space at the end of a line where it folds a long scalar; the space is
    # not part of the value, and Decap writes none.
    return re.sub(r"[ \t]+\n", "\n", text)


def _reads_back(matter: str, data: dict[str, Any]) -> bool:
    doc = parse(f"---\n{matter}---\n")
    return not doc.problems and not doc.body and _same(doc.data, data)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (so that 1 and True, or 1 and 1.0, are told apart)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def new_file(data: dict[str, Any], body: str, fmt: str = "frontmatter") -> str:
    """The text of a new entry's file, in Decap's style."""
    return reads_back(_new_file(data, body, fmt), fmt, data, body)


def _new_file(data: dict[str, Any], body: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("yml", "yaml"):
        return dump_mapping(data)
    if fmt not in ("frontmatter", "yaml-frontmatter"):
        raise Unprocessable(f"this server writes YAML and JSON files, not {fmt!r}")
    if body and not body.endswith("\n"):
        body += "\n"
    return f"---\n{dump_mapping(data)}---\n{body}"


# An empty front matter of each format: put before a body that would otherwise be read as
# front matter (a body starting with `---`, `+++` or `{`).
_EMPTY_MATTER = {"json-frontmatter": "{}\n", "toml-frontmatter": "+++\n+++\n"}


def reads_back(text: str, fmt: str, data: dict[str, Any], body: str | None) -> str:
    """``text``, checked to read back as ``data`` and ``body`` (None: not checked); a 422 if
    it would not, so that what is written is always what was sent (a body stays a body)."""
    document = parse(text, fmt)
    same_body = body is None or document.served_body.strip("\r\n") == body.strip("\r\n")
    if not document.problems and _same(document.data, data) and same_body:
        return text
    raise Unprocessable(
        "this content would not read back as written (a body that looks like front matter, "
        "or values YAML cannot hold)",
        {"json": {"body": ["would be read as something else"]}},
    )


def edit_file(
    document: Document, data: dict[str, Any], body: str | None, fmt: str = "frontmatter"
) -> str:
    """The file's text with its fields set to ``data`` and, unless None, its body to ``body``.

    Only the lines of changed keys change; the body's bytes stay unless the body changed.
    The result is checked to read back as ``data`` and ``body``: a splice that would not is
    replaced by the whole front matter written anew (checked in turn).
    """
    text = _edit_file(document, data, body, fmt)
    try:
        return reads_back(text, fmt, data, body)
    except Unprocessable:
        anew = _edit_file(document, data, body, fmt, splice=False)
        if anew == text:
            raise
        return reads_back(anew, fmt, data, body)


def _edit_file(
    document: Document, data: dict[str, Any], body: str | None, fmt: str, splice: bool = True
) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("yml", "yaml"):
        return _splice_or_dump(document.matter, document.data, data, splice)
    if fmt not in ("frontmatter", "yaml-frontmatter"):
        raise Unprocessable(f"this server writes YAML and JSON files, not {fmt!r}")
    raw_body = document.body
    if body is not None and body != document.served_body:
        lead = raw_body[: len(raw_body) - len(raw_body.lstrip("\r\n"))]
        raw_body = lead + body
    newline = "\r\n" if "\r\n" in document.text else "\n"
    if not document.head:
        if not data:
            if parse(raw_body, fmt).served_body != raw_body.lstrip("\r\n"):
                empty = _EMPTY_MATTER.get(fmt, "---\n---\n")
                return empty.replace("\n", newline) + raw_body
            return raw_body
        return _lines(f"---\n{dump_mapping(data)}---\n", newline) + raw_body
    if document.head.startswith("+++") or document.problems:
        # TOML front matter, or front matter that did not parse: written anew as YAML.
        return _lines(f"---\n{dump_mapping(data)}---\n", newline) + raw_body
    matter = _splice_or_dump(document.matter, document.data, data, splice)
    return document.head + matter + document.tail + raw_body


def _splice_or_dump(matter: str, old: dict[str, Any], new: dict[str, Any], splice: bool) -> str:
    """The front matter with the keys that changed re-emitted (``splice``) or all of it
    written anew, in the file's line endings."""
    if _same(old, new):
        return matter
    text = _splice_lf(matter, old, new) if splice else None
    if text is None:
        text = dump_mapping(new, _indents_sequences(matter))
    return _lines(text, "\r\n" if "\r\n" in matter else "\n")


def _lines(text: str, newline: str) -> str:
    """Front matter in the file's line endings: a CRLF file stays CRLF (YAML reads either
    line break the same way)."""
    return re.sub(r"(?<!\r)\n", newline, text) if newline == "\r\n" else text


def _splice_lf(matter: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The front matter with only the changed keys' lines replaced; None when it is not a
    block mapping. Whether it reads back is checked by the caller, on the whole file."""
    if not matter.strip():
        return None
    try:
        node = YAML(typ="rt").compose(matter)
    except Exception:
        return None
    if not isinstance(node, MappingNode) or node.flow_style:
        return None
    lines = matter.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(_splice(lines, node, old, new, _indents_sequences(matter)))


def _indents_sequences(matter: str) -> bool:
    """Whether this file writes ``key:\\n  - item`` (True, Decap's default) or ``- item``
    flush with its key."""
    lines = matter.splitlines()
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped.startswith("- ") and stripped != "-":
            continue
        for previous in reversed(lines[:index]):
            if previous.strip() and not previous.lstrip().startswith("#"):
                if previous.rstrip().endswith(":"):
                    dash = len(line) - len(stripped)
                    return dash > len(previous) - len(previous.lstrip(" "))
                break
    return True


def _end_line(lines: list[str], node: Node) -> int:
    """The line after the last line of a value node. A block node ends where the next key
    starts: at the beginning of a line, or at its indentation."""
    mark = node.end_mark
    if mark.line >= len(lines) or not lines[mark.line][: mark.column].strip():
        return mark.line
    return mark.line + 1


def _splice(
    lines: list[str],
    node: MappingNode,
    old: dict[str, Any],
    new: dict[str, Any],
    indent_sequences: bool,
) -> list[str]:
    """``lines`` with the keys of the block mapping ``node`` changed from ``old`` to ``new``."""
    lines = list(lines)
    spans: dict[str, tuple[int, int, Node, int]] = {}
    order: list[str] = []
    for key_node, value_node in node.value:
        key = str(key_node.value)
        start = key_node.start_mark.line
        end = _end_line(lines, value_node)
        while end > start + 1 and _is_blank_or_comment(lines[end - 1]):
            end -= 1  # blank lines and comments after a value stay where they are
        spans[key] = (start, end, value_node, key_node.start_mark.column)
        order.append(key)
    indent = node.value[0][0].start_mark.column if node.value else 0
    edits: list[tuple[int, int, list[str]]] = []
    for key in order:
        if key not in new:
            start, end, _, _ = spans[key]
            edits.append((start, end, []))
        elif not _same(old.get(key), new[key]):
            start, end, value_node, column = spans[key]
            if (
                isinstance(old.get(key), dict)
                and isinstance(new[key], dict)
                and new[key]
                and isinstance(value_node, MappingNode)
                and not value_node.flow_style
                and value_node.value
            ):
                inner = _splice(lines, value_node, old[key], new[key], indent_sequences)
                # The nested splice changed lines start..end only; take that range back out.
                delta = len(inner) - len(lines)
                edits.append((start + 1, end, inner[start + 1 : end + delta]))
            else:
                emitted = _emit(key, new[key], column, indent_sequences)
                edits.append((start, end, _keep_comment(lines, start, end, value_node, emitted)))
    added = [key for key in new if key not in spans]
    if added:
        last_end = max(end for _, end, _, _ in spans.values()) if spans else len(lines)
        block: list[str] = []
        for key in added:
            block.extend(_emit(key, new[key], indent, indent_sequences))
        edits.append((last_end, last_end, block))
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[start:end] = replacement
    return lines


_TRAILING_COMMENT = re.compile(r"[ \t]+#[^\r\n]*")


def _keep_comment(
    lines: list[str], start: int, end: int, value: Node, emitted: list[str]
) -> list[str]:
    """A one-line value replaced by a one-line value keeps the comment that followed it
    (``title: Old  # shown in the menu``)."""
    if end != start + 1 or len(emitted) != 1 or value.end_mark.line != start:
        return emitted
    comment = _TRAILING_COMMENT.match(lines[start], value.end_mark.column)
    if comment is None:
        return emitted
    line = emitted[0]
    content = line.rstrip("\r\n")
    return [content + comment.group() + line[len(content) :]]


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _emit(key: str, value: Any, column: int, indent_sequences: bool) -> list[str]:
    text = dump_mapping({key: value}, indent_sequences)
    pad = " " * column
    return [pad + line if line.strip() else line for line in text.splitlines(keepends=True)]
