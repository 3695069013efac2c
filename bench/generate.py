"""Generate a synthetic Decap site: French text with accents, several collections with
relations, any number of entries, a long history. Deterministic for a given seed.

    .venv/bin/python bench/generate.py --entries 10000 --commits 5000 --out bench/out/site-10000

The first commit holds the config and most entries; each later commit adds one article or
edits one, so that the history has the asked number of commits. Written with
`git fast-import`, so 100,000 entries take seconds, not hours.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import subprocess
from pathlib import Path

CONFIG = """\
backend:
  name: git-gateway
  branch: main
media_folder: static/img
public_folder: /img
collections:
  - name: articles
    label: Articles
    label_singular: Article
    folder: articles
    create: true
    slug: "{{year}}-{{month}}-{{day}}-{{slug}}"
    fields:
      - {label: Titre, name: title, widget: string}
      - {label: Date, name: date, widget: datetime}
      - {label: Résumé, name: summary, widget: text}
      - {label: Étiquettes, name: tags, widget: list}
      - label: Rubrique
        name: rubrique
        widget: select
        options: [actualité, portrait, dossier, événement, tribune]
      - {label: Auteur, name: author, widget: relation, collection: auteurs, value_field: title}
      - {label: Lecture (minutes), name: minutes, widget: number, value_type: int}
      - {label: À la une, name: featured, widget: boolean, required: false}
      - {label: Contenu, name: body, widget: markdown}
  - name: auteurs
    label: Auteurs
    label_singular: Auteur
    folder: auteurs
    create: true
    fields:
      - {label: Nom, name: title, widget: string}
      - {label: Rôle, name: role, widget: string}
      - {label: Présentation, name: body, widget: markdown, required: false}
  - name: pages
    label: Pages
    files:
      - name: accueil
        label: Accueil
        file: pages/accueil.md
        fields:
          - {label: Titre, name: title, widget: string}
          - {label: Auteurs mis en avant, name: authors, widget: relation, collection: auteurs,
             value_field: title, multiple: true}
"""

WORDS = [
    "pérennisation",
    "intérêt",
    "général",
    "numérique",
    "administration",
    "entrepreneur",
    "défi",
    "promotion",
    "équipe",
    "données",
    "santé",
    "éducation",
    "justice",
    "écologie",
    "société",
    "résultat",
    "méthode",
    "agilité",
    "innovation",
    "service",
    "public",
    "usager",
    "produit",
    "stratégie",
    "impact",
    "expérimentation",
    "déploiement",
    "mission",
    "ministère",
    "collectivité",
    "territoire",
    "accompagnement",
    "formation",
    "mentorat",
    "communauté",
    "évaluation",
    "qualité",
    "accessibilité",
    "sécurité",
    "souveraineté",
    "ouverture",
    "transparence",
    "réseau",
    "citoyen",
    "démarche",
    "projet",
    "financement",
    "recrutement",
    "talent",
    "compétence",
    "évolution",
    "vitesse",
    "élan",
    "créativité",
    "réussite",
    "coopération",
    "échange",
    "forêt",
    "énergie",
    "mobilité",
    "logement",
    "culture",
]
FIRST = [
    "Élodie",
    "Noémie",
    "Zoé",
    "Hélène",
    "Amélie",
    "Théo",
    "Jérôme",
    "Loïc",
    "Anaïs",
    "Maël",
    "Inès",
    "Gaëlle",
    "Chloé",
]
LAST = [
    "Lefèvre",
    "Dupré",
    "Bénard",
    "Mercier",
    "Garnier",
    "Fabre",
    "Lemaître",
    "Rivière",
    "Béranger",
    "Loiseau",
]
RUBRIQUES = ["actualité", "portrait", "dossier", "événement", "tribune"]


SYLLABLES = ["ré", "pé", "con", "tra", "mé", "lo", "gi", "sa", "tion", "ment", "é", "vi", "nu"]
SYLLABLES += ["ca", "ter", "ble", "çon", "gè", "dé", "par", "in", "ex", "ul", "ô", "fé", "ri"]


def vocabulary(size: int = 8_000) -> list[str]:
    """WORDS, then made-up French-looking words: a vocabulary whose words are drawn with
    Zipf's law, as in real text (a few words everywhere, most words in a few entries)."""
    rng = random.Random(0)
    words = list(WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


VOCABULARY = vocabulary()
ZIPF = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))


def sentence(rng: random.Random, low: int = 6, high: int = 14) -> str:
    words = rng.choices(VOCABULARY, cum_weights=ZIPF, k=rng.randint(low, high))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def slugify(text: str) -> str:
    return "-".join(text.lower().replace("’", "").replace("'", "").split())


def author_name(index: int) -> str:
    return f"{FIRST[index % len(FIRST)]} {LAST[(index // len(FIRST)) % len(LAST)]} {index}"


def author_file(index: int) -> tuple[str, str]:
    name = author_name(index)
    text = f"---\ntitle: {name}\nrole: Rédaction\n---\nAuteur de la rédaction.\n"
    return f"auteurs/{slugify(name)}.md", text


def article_file(rng: random.Random, index: int, authors: int, edit: int = 0) -> tuple[str, str]:
    day = 1 + index % 28
    month = 1 + (index // 28) % 12
    year = 2015 + (index // 336) % 10
    title = f"{sentence(rng, 3, 7)[:-1]} {index}"
    slug = f"{year}-{month:02d}-{day:02d}-article-{index}"
    tags = sorted({rng.choice(WORDS) for _ in range(rng.randint(1, 3))})
    body = "\n\n".join(sentence(rng, 12, 30) for _ in range(rng.randint(2, 5)))
    lines = [
        "---",
        f"title: {title}",
        f"date: {year}-{month:02d}-{day:02d} {index % 24:02d}:00:00 +01:00",
        f"summary: {sentence(rng)}",
        "tags:",
        *[f"  - {tag}" for tag in tags],
        f"rubrique: {RUBRIQUES[index % len(RUBRIQUES)]}",
        f"author: {author_name(rng.randrange(authors))}",
        f"minutes: {1 + (index + edit) % 20}",
        f"featured: {'true' if index % 10 == 0 else 'false'}",
        "---",
        body + (f"\n\nMise à jour n°{edit}." if edit else ""),
        "",
    ]
    return f"articles/{slug}.md", "\n".join(lines)


def blob(data: str) -> bytes:
    raw = data.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(entries: int, commits: int, out: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    authors = max(10, entries // 100)
    articles = entries - authors - 1
    later = min(commits - 1, articles)  # commits after the first, each adding one article
    edits = commits - 1 - later
    if out.exists():
        shutil.rmtree(out)
    subprocess.run(["git", "init", "-q", "-b", "main", str(out)], check=True)
    stream = bytearray()
    when = 1_500_000_000

    def commit(message: str, files: list[tuple[str, str]]) -> None:
        nonlocal when
        when += 3600
        stream.extend(b"commit refs/heads/main\n")
        stream.extend(f"author Générateur <bench@example.org> {when} +0100\n".encode())
        stream.extend(f"committer Générateur <bench@example.org> {when} +0100\n".encode())
        stream.extend(blob(message)[:-1])
        stream.extend(b"\n")
        for path, text in files:
            stream.extend(f"M 100644 inline {path}\n".encode())
            stream.extend(blob(text))

    first_files = [("admin/config.yml", CONFIG)]
    first_files += [author_file(i) for i in range(authors)]
    featured = "\n".join(f"  - {author_name(i)}" for i in range(min(5, authors)))
    first_files.append(("pages/accueil.md", f"---\ntitle: Accueil\nauthors:\n{featured}\n---\n"))
    first_files += [article_file(rng, i, authors) for i in range(articles - later)]
    commit("Créer le site", first_files)
    for step in range(later):
        index = articles - later + step
        commit(f"Ajouter l’article {index}", [article_file(rng, index, authors)])
    for step in range(edits):
        index = rng.randrange(articles)
        edit_rng = random.Random(index)
        commit(
            f"Modifier l’article {index}",
            [article_file(edit_rng, index, authors, edit=step + 1)],
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=out, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=out, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=out, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.entries, args.commits, args.out, args.seed)
    count = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=args.out, capture_output=True, text=True
    ).stdout.strip()
    print(f"{args.out}: {args.entries} entries, {count} commits")


if __name__ == "__main__":
    main()
