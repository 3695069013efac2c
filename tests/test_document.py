"""Front matter: YAML 1.2, files without front matter, broken files reported, bytes kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cms.content.document import parse
from cms.settings import PROJECT_ROOT


def test_yaml_1_2_semantics_and_dates_as_text() -> None:
    doc = parse(
        b"---\nplain: yes\nswitch: on\nn: 12\nf: 1.5\nok: true\nnothing: ~\n"
        b"date: 2018-01-15 23:00:00 +01:00\nday: 2024-01-02\n---\nBody\n"
    )
    assert doc.data == {
        "plain": "yes",
        "switch": "on",
        "n": 12,
        "f": 1.5,
        "ok": True,
        "nothing": None,
        "date": "2018-01-15 23:00:00 +01:00",
        "day": "2024-01-02",
    }
    assert doc.body == "Body\n"
    assert doc.problems == []


def test_no_front_matter_is_all_body() -> None:
    doc = parse(b"# Titre\n\nTexte.\n")
    assert doc.data == {} and doc.body == "# Titre\n\nTexte.\n" and doc.problems == []


def test_front_matter_with_an_empty_body() -> None:
    doc = parse(b"---\ntitle: x\n---\n")
    assert doc.data == {"title": "x"} and doc.body == "" and doc.problems == []
    empty = parse(b"---\n---\n")
    assert empty.data == {} and empty.problems == []
    at_end = parse(b"---\ntitle: x\n---")
    assert at_end.data == {"title": "x"} and at_end.body == ""


def test_crlf_and_bom() -> None:
    doc = parse("\ufeff---\r\ntitle: x\r\n---\r\nBody\r\n".encode())
    assert doc.data == {"title": "x"} and doc.body == "Body\r\n"


def test_served_body_drops_the_blank_lines_after_the_delimiter() -> None:
    doc = parse(b"---\ntitle: x\n---\n\nAfter a blank line\n")
    assert doc.body == "\nAfter a blank line\n"
    assert doc.served_body == "After a blank line\n"


def test_broken_files_are_reported_never_raised() -> None:
    bad = parse(b"---\ntitle: [unclosed\n---\nBody\n")
    assert bad.data == {} and bad.body == "Body\n"
    assert bad.problems and bad.problems[0].startswith("invalid YAML front matter: line ")
    dup = parse(b"---\ntitle: a\ntitle: b\n---\n")
    assert dup.data == {"title": "a"}
    assert dup.problems == ['line 3: duplicate key "title" with value "b" (original value: "a")']
    unclosed = parse(b"---\ntitle: a\n")
    assert unclosed.data == {} and unclosed.body == "---\ntitle: a\n"
    assert "no closing delimiter" in unclosed.problems[0]
    not_a_map = parse(b"---\n- a\n- b\n---\n")
    assert not_a_map.data == {} and "not a mapping" in not_a_map.problems[0]
    latin1 = parse("---\ntitle: café\n---\n".encode("latin-1"))
    assert latin1.data == {"title": "caf\ufffd"}
    assert "not valid UTF-8" in latin1.problems[0]


def test_a_loader_failure_is_a_problem() -> None:
    doc = parse(b"---\n-_: 1\ntitle: x\n---\nBody\n")
    assert doc.data == {} and doc.body == "Body\n"
    assert doc.problems[0].startswith("invalid YAML front matter: ")


def test_other_formats() -> None:
    assert parse(b'+++\ntitle = "x"\n+++\nBody\n').data == {"title": "x"}
    assert parse(b'{"title": "x"}\nBody\n').data == {"title": "x"}
    assert parse(b"title: x\n", "yml").data == {"title": "x"}
    assert parse(b'{"title": "x"}', "json").data == {"title": "x"}
    assert parse(b'title = "x"\n', "toml").data == {"title": "x"}
    assert parse(b"{", "json").problems[0].startswith("invalid JSON")


def test_values_json_cannot_carry_become_strings() -> None:
    doc = parse(b"---\nnan: .nan\ninf: -.inf\nbin: !!binary aGk=\n1: one\nfalse: f\n---\n")
    assert doc.data == {"nan": ".nan", "inf": "-.inf", "bin": "aGk=", "1": "one", "false": "f"}


def test_the_sample_files_split_back_into_their_bytes() -> None:
    for path in sorted((PROJECT_ROOT / "content").rglob("*.md")):
        raw = path.read_bytes()
        doc = parse(raw)
        assert (doc.head + doc.matter + doc.tail + doc.body).encode() == raw, path
        assert doc.problems == [], path


keys = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
# YAML streams may hold only printable characters (YAML 1.2, 5.1), escaped or not.
printable = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"))
scalars = st.one_of(
    st.text(printable, max_size=40),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
)


@given(
    st.dictionaries(keys, scalars, max_size=6),
    st.text(max_size=200),
    st.sampled_from(["\n", "\r\n"]),
)
def test_split_is_lossless_and_values_round_trip(data, body, newline) -> None:
    import json

    matter = "".join(
        f"{key}: {json.dumps(value, ensure_ascii=False)}{newline}" for key, value in data.items()
    )
    text = f"---{newline}{matter}---{newline}{body}"
    doc = parse(text.encode("utf-8", "surrogatepass"))
    assert doc.head + doc.matter + doc.tail + doc.body == text
    assert doc.data == data
    assert doc.body == body


YAML_PIECES = [
    "title: Élan « pérennisation » d’intérêt général",
    "yes: on",
    "n: 0o17",
    "m: 017",
    "x: 1_000",
    "h: 0x1F",
    "f: .inf",
    "t: ~",
    "d: 2024-01-02",
    "dt: 2018-01-15 23:00:00 +01:00",
    "time: 1:20",
    "q: 'it''s'",
    'e: "a\\tb\\u00e9\\x41"',
    "list:\n  - a\n  - 'b: c'\n  - [1, 2, {k: v}]",
    "map: {a: 1, b: [x, y]}",
    "empty:",
    "anchor: &a {k: 1}\nref: *a",
    "folded: >\n  un\n  deux\n",
    "lit: |-\n  un\n  deux",
    "bad: [unclosed",
    "dup: 1\ndup: 2",
    "tabbed: x\t",
    "nel: a\u0085b",
    "ls: a\u2028b",
    "url: http://exemple.fr:80/a?b=c#d",
    "colon: a:b",
    "key with spaces: v",
    "? complex\n: v",
    "- not a mapping",
    "%YAML 1.2\n---\na: 1",
    "!!str 12: v",
    "bin: !!binary aGk=",
    "'quoted key': 'v'",
    "num: -.5e3",
    "bools: [true, False, TRUE, yes, No]",
]


@given(st.lists(st.sampled_from(YAML_PIECES), max_size=6, unique=True))
def test_the_quick_parser_reads_what_the_reference_reads(pieces: list[str]) -> None:
    """libyaml's parser (ruamel.yaml.clib) is used when it is installed; on every text it
    reads, the data is what ruamel's pure parser gives, and every text it cannot read the same
    way goes to the pure parser (same data, same problems)."""
    from cms.content import document

    text = "---\n" + "\n".join(pieces) + "\n---\nCorps.\n"
    assert document._quick("title: Élan\ntags: [a, b]")[0]  # clib is installed with the project
    quick = document.parse(text.encode())
    libyaml = document._LibYaml
    document._LibYaml = None
    try:
        reference = document.parse(text.encode())
    finally:
        document._LibYaml = libyaml
    assert quick.data == reference.data
    assert quick.problems == reference.problems
    assert quick.body == reference.body


@given(st.lists(st.sampled_from(YAML_PIECES), max_size=6, unique=True))
def test_the_quick_loader_is_ruamels_own_on_libyaml(pieces: list[str]) -> None:
    """The loader made once reads each text as ``YAML(typ="safe", pure=False)`` with the same
    constructor reads it: the same data, or the same error."""
    from ruamel.yaml import YAML

    from cms.content import document

    text = "\n".join(pieces)

    def read(load):
        try:
            return load(text)
        except Exception as exc:  # the error is part of what is compared
            return type(exc), str(exc)

    ruamel = YAML(typ="safe", pure=False)
    ruamel.Constructor = document._TextTimestamps
    assert read(document._LibYaml.load) == read(ruamel.load)


def test_parsing_keeps_nothing_per_document() -> None:
    """A server parses files for as long as it runs: a parse leaves nothing behind (ruamel's
    ``YAML`` object keeps a record of each document it loads), whether libyaml's parser, the
    pure one (a tab) or the lenient one (a duplicate key) reads it."""
    import gc
    import tracemalloc

    extras = ["", "tabbed: x\t\n", "dup: 1\ndup: 2\n"] + [""] * 7
    texts = [
        f"---\ntitle: Élan {n}\ntags: [a, b]\n{extras[n % 10]}---\nCorps.\n".encode()
        for n in range(3000)
    ]
    for text in texts:  # first loads fill the loaders' tables and Python's caches
        parse(text)
    tracemalloc.start()
    try:
        gc.collect()  # a loader is a cycle of objects: the collector frees it
        before = tracemalloc.take_snapshot()
        for text in texts:
            parse(text)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # Python's cache of attribute names (4,096 of them at most) fills with the names ruamel
    # makes for each pure load (66 kB here); ruamel's records of documents took 700 kB.
    assert grown < 150_000, [str(s) for s in after.compare_to(before, "lineno")[:5]]
