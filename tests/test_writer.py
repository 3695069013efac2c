"""Round trips: parse then write without change is byte-identical, and changing one key
changes only that key's lines."""

from __future__ import annotations

import copy
import difflib
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms.content.document import parse
from cms.content.writer import dump_mapping, edit_file, new_file
from cms.settings import PROJECT_ROOT

PAGES = sorted((PROJECT_ROOT / "content").rglob("*.md"))


def changed_lines(before: str, after: str) -> list[int]:
    """0-based numbers of the lines of ``before`` that the edit replaced or removed, and where
    lines were inserted."""
    found: list[int] = []
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            found.extend(range(i1, max(i2, i1 + 1)))
    return found


def key_spans(text: str) -> dict[str, range]:
    """The lines of each top-level key of a front-matter file (1 = the first matter line)."""
    lines = text.splitlines()
    starts = [
        (i, line.split(":", 1)[0])
        for i, line in enumerate(lines)
        if i > 0 and line[:1] not in (" ", "-", "#", "") and ":" in line and line != "---"
    ]
    end_of_matter = lines.index("---", 1)
    spans = {}
    for index, (start, key) in enumerate(starts):
        if start > end_of_matter:
            break
        end = starts[index + 1][0] if index + 1 < len(starts) else end_of_matter
        spans[key] = range(start, min(end, end_of_matter))
    return spans


def test_every_sample_page_round_trips_byte_for_byte() -> None:
    assert len(PAGES) >= 13
    for path in PAGES:
        raw = path.read_bytes()
        doc = parse(raw)
        assert edit_file(doc, copy.deepcopy(doc.data), doc.served_body).encode() == raw, path


def new_value(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + " (modifié)"
    if isinstance(value, list):
        return [*value, copy.deepcopy(value[0])] if value else ["nouveau"]
    if isinstance(value, dict):
        key = next(iter(value))
        return {**value, key: new_value(value[key])}
    return "nouveau"


def test_changing_one_key_changes_only_its_lines() -> None:
    checked = 0
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        doc = parse(text.encode())
        if not doc.head:
            continue  # no front matter
        spans = key_spans(text)
        for key in doc.data:
            data = copy.deepcopy(doc.data)
            data[key] = new_value(data[key])
            edited = edit_file(doc, data, doc.served_body)
            again = parse(edited.encode())
            assert again.data == json.loads(json.dumps(data)), (path, key)
            assert again.body == doc.body
            lines = changed_lines(text, edited)
            assert lines, (path, key)
            span = spans[key]
            assert all(span.start <= n <= span.stop for n in lines), (path, key, lines, span)
            checked += 1
    assert checked > 50


def test_a_nested_change_touches_one_line() -> None:
    text = (PROJECT_ROOT / "content/pages/accueil.md").read_text(encoding="utf-8")
    doc = parse(text.encode())
    data = copy.deepcopy(doc.data)
    data["join"]["btn"]["external"] = False
    edited = edit_file(doc, data, doc.served_body)
    diff = [
        line
        for line in difflib.unified_diff(text.splitlines(), edited.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert diff == ["-    external: true", "+    external: false"]


def test_removing_and_adding_keys() -> None:
    text = "---\ntitle: Titre\n# un commentaire\ntags:\n  - a\nlayout: post\n---\nCorps\n"
    doc = parse(text.encode())
    data = {"title": "Titre", "tags": ["a"], "draft": True}
    edited = edit_file(doc, data, doc.served_body)
    assert edited == "---\ntitle: Titre\n# un commentaire\ntags:\n  - a\ndraft: true\n---\nCorps\n"


def test_body_changes_keep_the_front_matter_bytes() -> None:
    text = "---\ntitle:   'Titre'   # gardé\n---\n\nAncien corps\n"
    doc = parse(text.encode())
    edited = edit_file(doc, doc.data, "Nouveau corps\n")
    assert edited == "---\ntitle:   'Titre'   # gardé\n---\n\nNouveau corps\n"


def test_a_file_without_front_matter_gains_one_only_when_needed() -> None:
    doc = parse(b"# Titre\n\nTexte\n")
    assert edit_file(doc, {}, doc.served_body) == "# Titre\n\nTexte\n"
    assert edit_file(doc, {"title": "Titre"}, doc.served_body) == (
        "---\ntitle: Titre\n---\n# Titre\n\nTexte\n"
    )


def test_new_files_in_decap_style() -> None:
    text = new_file(
        {
            "title": ("Un titre assez long pour être replié " * 3).strip(),
            "date": "2024-01-02 10:00:00 +01:00",
            "yes": "yes",
            "n": 3,
            "desc": "Ligne 1\nLigne 2",
            "list": [{"a": 1}],
        },
        "Corps",
    )
    assert text.startswith("---\ntitle: Un titre assez long")
    assert "\ndate: 2024-01-02 10:00:00 +01:00\n" in text  # dates stay plain
    assert "\nyes: yes\n" in text  # YAML 1.2: a plain yes is a string
    assert "\ndesc: |-\n  Ligne 1\n  Ligne 2\n" in text
    assert "\nlist:\n  - a: 1\n" in text
    assert not any(line.endswith(" ") for line in text.splitlines())
    assert text.endswith("---\nCorps\n")
    assert (
        parse(text.encode()).data["title"] == ("Un titre assez long pour être replié " * 3).strip()
    )


# -- property: generated front matter ---------------------------------------------------------

printable = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"))
keys = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
scalars = st.one_of(
    st.text(printable, max_size=60),
    st.text(st.sampled_from("ab \n:#-'\"é"), max_size=20),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
    st.sampled_from(["yes", "no", "on", "2024-01-02", "2018-01-15 23:00:00 +01:00", "1.0", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(keys, inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)
mappings = st.dictionaries(keys, values, min_size=1, max_size=6)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mappings, st.data())
def test_generated_front_matter_round_trips(data, draw) -> None:
    text = "---\n" + dump_mapping(data) + "---\nCorps\n"
    doc = parse(text.encode())
    assert doc.problems == []
    assert doc.data == json.loads(json.dumps(data))
    assert edit_file(doc, copy.deepcopy(doc.data), doc.served_body) == text
    key = draw.draw(st.sampled_from(sorted(data)))
    changed = copy.deepcopy(doc.data)
    changed[key] = draw.draw(values)
    edited = edit_file(doc, changed, doc.served_body)
    again = parse(edited.encode())
    assert again.data == json.loads(json.dumps(changed))
    assert again.body == doc.body
    spans = key_spans(text)
    lines = changed_lines(text, edited)
    span = spans[key]
    assert all(span.start <= n <= span.stop for n in lines), (key, lines, span)


def leaf_paths(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaf_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaf_paths(value, (*path, index))
    else:
        yield path


def test_random_nested_edits_of_the_sample_pages_stay_in_their_key() -> None:
    rng = random.Random(7)
    replacements = ["nouvelle valeur", "ligne 1\nligne 2", 42, True, None, "a: b", "x " * 60]
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        doc = parse(text.encode())
        if not doc.head:
            continue
        spans = key_spans(text)
        leaves = list(leaf_paths(doc.data))
        for _ in range(30):
            where = rng.choice(leaves)
            data = copy.deepcopy(doc.data)
            node = data
            for part in where[:-1]:
                node = node[part]
            node[where[-1]] = rng.choice(replacements)
            edited = edit_file(doc, data, doc.served_body)
            again = parse(edited.encode())
            assert again.data == json.loads(json.dumps(data)), (path, where)
            assert again.body == doc.body
            span = spans[where[0]]
            lines = changed_lines(text, edited)
            assert all(span.start <= n <= span.stop for n in lines), (path, where, lines)


def test_an_edit_keeps_crlf_line_endings_and_inline_comments() -> None:
    text = (
        "---\r\ntitle: Old  # shown in the menu\r\ntags:\r\n  - a\r\n"
        "desc: |\r\n  x\r\n  y\r\nn: 1 # a number\r\n---\r\nBody\r\nline\r\n"
    )
    doc = parse(text.encode())
    changed = {**doc.data, "title": "New", "tags": ["a", "b"], "desc": "p\nq\n", "extra": 2}
    edited = edit_file(doc, changed, doc.served_body)
    assert "\n" not in edited.replace("\r\n", "")  # no LF alone: not mixed
    assert "title: New  # shown in the menu\r\n" in edited
    assert "n: 1 # a number\r\n" in edited
    assert edited.endswith("---\r\nBody\r\nline\r\n")
    assert parse(edited.encode()).data == changed
    plain = parse(b"Just a body\r\nline\r\n")
    added = edit_file(plain, {"title": "T"}, plain.served_body)
    assert added == "---\r\ntitle: T\r\n---\r\nJust a body\r\nline\r\n"
