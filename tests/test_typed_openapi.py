"""The OpenAPI document typed by the site's model: TypeScript types generated from it with
openapi-typescript (npm) type-check a small front-end client with tsc, and a client with a
misspelt field fails the check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cms.settings import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "tests" / "node" / "node_modules" / ".bin"

CLIENT = """\
import type { components, paths } from "./api";

type Answer<P extends keyof paths> =
  paths[P] extends { get: { responses: { 200: { content: { "application/json": infer T } } } } }
    ? T
    : never;
type Home = Answer<"/api/v1/collections/pages/entries/accueil">;
type People = Answer<"/api/v1/collections/personnes/entries">;
type Listed = components["schemas"]["PersonnesListedEntry"];

export async function home(base: string): Promise<string> {
  const page: Home = await (await fetch(`${base}/api/v1/collections/pages/entries/accueil`)).json();
  const url: string = page.fields.hero.btn.url;
  const talents: Array<string | number> = page.fields.talents.list;
  return `${page.fields.title} ${url} ${talents.length}`;
}

export async function people(base: string): Promise<string[]> {
  const list: People = await (await fetch(`${base}/api/v1/collections/personnes/entries`)).json();
  // A list's fields are optional (`fields=` projects them); a single entry's are as the model says.
  return list.map((person: Listed) => `${person.fields.title ?? "?"} (${person.fields.role})`);
}
"""
TYPO = CLIENT.replace("page.fields.hero.btn.url", "page.fields.hero.btn.link")
WRONG_TYPE = CLIENT.replace(
    "const url: string = page.fields.hero.btn.url;", "const url: number = page.fields.hero.btn.url;"
)


def tsc(folder: Path, source: str) -> subprocess.CompletedProcess:
    (folder / "client.ts").write_text(source, encoding="utf-8")
    return subprocess.run(
        [str(NODE_BIN / "tsc"), "--noEmit", "--strict", "--target", "es2022",
         "--lib", "es2022,dom", "--moduleResolution", "bundler", "--module", "es2022",
         "client.ts"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_generated_types_check_a_client_and_catch_a_typo(client, tmp_path) -> None:
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = document.get_json()
    assert spec["info"]["x-content-commit"] == document.headers["X-Content-Commit"]
    (tmp_path / "openapi.json").write_text(json.dumps(spec), encoding="utf-8")
    generated = subprocess.run(
        [str(NODE_BIN / "openapi-typescript"), "openapi.json", "-o", "api.d.ts"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    good = tsc(tmp_path, CLIENT)
    assert good.returncode == 0, good.stdout + good.stderr
    typo = tsc(tmp_path, TYPO)
    assert typo.returncode != 0
    assert "Property 'link' does not exist" in typo.stdout
    wrong = tsc(tmp_path, WRONG_TYPE)
    assert wrong.returncode != 0
    assert "Type 'string' is not assignable to type 'number'" in wrong.stdout


def test_the_typed_schemas_describe_the_content(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    fields = schemas["PagesAccueilFields"]
    assert fields["properties"]["hero"]["properties"]["btn"]["properties"]["url"] == {
        "type": "string",
        "not": {"enum": [None, "", [], {}]},  # required: not empty
        "title": "Lien",
    }
    assert fields["required"][:2] == ["title", "hero"]
    talents = fields["properties"]["talents"]["properties"]["list"]
    assert talents["items"]["x-relation"] == "personnes.title"
    people = schemas["PersonnesFields"]["properties"]["role"]
    assert people["enum"] == ["eig", "sponsor"]
    entry = schemas["PersonnesEntry"]["properties"]
    assert entry["collection"]["const"] == "personnes"
    assert entry["fields"]["$ref"] == "#/components/schemas/PersonnesFields"
    one = spec["paths"]["/api/v1/collections/personnes/entries/{slug}"]
    assert [p["name"] for p in one["parameters"]] == ["slug"]
    # The document of one collection, at a ref: that collection's typed paths only.
    alone = client.get("/api/v1/collections/personnes/openapi.json?ref=main").get_json()
    typed = [p for p in alone["paths"] if "{collection}" not in p and "/entries" in p]
    assert all(p.startswith("/api/v1/collections/personnes/") for p in typed) and typed
    assert client.get("/api/v1/collections/nope/openapi.json").status_code == 404


def test_the_document_revalidates(client) -> None:
    first = client.get("/api/v1/openapi.json")
    again = client.get("/api/v1/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
