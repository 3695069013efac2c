"""The Decap editor on this server, timed in headless Chromium, on a site of the size where the
app is slow with other backends: 350 people (a relation of the home page lists them) and 73
draft branches, in the editorial workflow.

    .venv/bin/python bench/decap_bench.py [--people 350] [--drafts 73] [--rounds 10]

Three figures, each from the editor's click to what it waits for on screen (the 5 MB bundle is
loaded and compiled before the first, and not counted):

* sign-in: Decap's own login button → the first collection's entries listed; and → the last
  answer of the app's fetching of every draft (6 s with decap-server on such a site);
* opening an entry: a click on the home page in the list → its form filled (the relation
  widget lists every person). The first opening after the sign-in is reported apart: the app
  then loads every draft again (two requests each);
* a save: the save button → "Entrée enregistrée" (a draft commit), with the share of it
  spent in the ``persistEntry`` request (the rest is the app's own work before and after).

It also counts the requests and bytes (as sent, compressed) of the sign-in.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import ROOT, Server
from cms.auth import TokenStore
from cms.storage.seed import seed_repository
from cms.vendor import install


def words(text: str) -> list[str]:
    return text.split()


WORDS = words(
    "numérique intérêt général administration données ouvertes service public équipe défi "
    "mentor promotion État innovation transformation ministère citoyen usager agent projet "
    "développement design produit communauté entrepreneur talent programme année réussite"
)
FIRST = words("Adèle Anaïs Bérénice Camille Chloé Élodie Hélène Inès Joël Léa Loïc Maël Noé Zoé")
LAST = words("Durand Lefèvre Moreau Girard Bonnet François Mercier Dupré Lambert Fontaine")


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def build_site(folder: Path, people: int, drafts: int) -> Path:
    """The sample site, with ``people`` people (about 900 bytes each) and ``drafts`` drafts
    of news posts, in the editorial workflow."""
    repo = folder / "site"
    seed_repository(ROOT / "content", repo)
    rng = random.Random(7)
    config = repo / "admin" / "config.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("locale: fr\n", "locale: fr\npublish_mode: editorial_workflow\n"),
        encoding="utf-8",
    )
    existing = len(list((repo / "personnes").glob("*.md")))
    for index in range(people - existing):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {index}"
        slug = name.lower().replace(" ", "-")
        body = " ".join(rng.choice(WORDS) for _ in range(110)).capitalize() + "."
        role = rng.choice(["eig", "sponsor"])
        (repo / "personnes" / f"{slug}.md").write_text(
            f"---\ntitle: {name}\nrole: {role}\n---\n{body}\n", encoding="utf-8"
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{people} people, the editorial workflow")
    for index in range(drafts):
        slug = f"2026-01-{index % 28 + 1:02d}-brouillon-{index}"
        branch = f"cms/actualites/{slug}"
        git(repo, "checkout", "-qb", branch, "main")
        (repo / "actualites" / f"{slug}.md").write_text(
            f"---\ntitle: Brouillon {index}\ndate: 2026-01-{index % 28 + 1:02d} 10:00:00 +01:00\n"
            f"---\n{' '.join(rng.choice(WORDS) for _ in range(80))}\n",
            encoding="utf-8",
        )
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"Create Actualité “{slug}”")
        git(repo, "config", f"branch.{branch}.description", "decap-cms/draft")
    git(repo, "checkout", "-q", "main")
    return repo


def is_persist(response) -> bool:
    return '"action":"persistEntry"' in (response.request.post_data or "")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, values: list[float], target: float) -> None:
    print(
        f"{name:<36} p50 {statistics.median(values):7.0f} ms   p95 {percentile(values, 0.95):7.0f}"
        f" ms   max {max(values):7.0f} ms   target < {target:.0f} ms   ({len(values)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=350)
    parser.add_argument("--drafts", type=int, default=73)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    install()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="decap-bench-") as temporary:
        folder = Path(temporary)
        repo = build_site(folder, args.people, args.drafts)
        instance = folder / "instance"
        instance.mkdir()
        _, secret = TokenStore(instance).create("Camille Martin", "editor", "c@example.org")
        server = Server(repo, instance)
        print(f"site: {args.people} people, {args.drafts} drafts; server {server.base}")
        logins: list[float] = []
        drafts: list[float] = []
        firsts: list[float] = []
        opens: list[float] = []
        saves: list[float] = []
        persists: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
                )
                for round_ in range(args.rounds):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    traffic = {"requests": 0, "bytes": 0, "last": 0.0}

                    def count(response, traffic=traffic) -> None:
                        if "/admin/api/v1" in response.url:
                            traffic["requests"] += 1
                            traffic["bytes"] += int(response.headers.get("content-length", 0))
                            traffic["last"] = time.perf_counter()

                    page.goto(server.base + "/admin/login")
                    page.fill("#token", secret)
                    page.click("button[type=submit]")
                    button = page.get_by_role("button", name="Se connecter")
                    button.wait_for(timeout=60_000)  # the bundle is loaded and compiled
                    page.on("response", count)
                    started = time.perf_counter()
                    button.click()
                    page.get_by_text("Page d'accueil").wait_for(timeout=60_000)
                    logins.append((time.perf_counter() - started) * 1000)
                    while time.perf_counter() - traffic["last"] < 1.0:
                        page.wait_for_timeout(100)  # until the app stops fetching drafts
                    drafts.append((traffic["last"] - started) * 1000)
                    if round_ == 0:
                        print(
                            f"sign-in traffic: {traffic['requests']} proxy requests, "
                            f"{traffic['bytes'] / 1024:.0f} KB as sent"
                        )
                    for attempt in range(4):
                        started = time.perf_counter()
                        page.get_by_text("Page d'accueil").click()
                        page.locator("input").first.wait_for(timeout=60_000)
                        page.wait_for_function(
                            "() => document.querySelector('input') && "
                            "document.querySelector('input').value.length > 0"
                        )
                        took = (time.perf_counter() - started) * 1000
                        (opens if attempt else firsts).append(took)
                        page.go_back()
                        page.get_by_text("Page d'accueil").wait_for(timeout=60_000)
                    page.get_by_text("Page d'accueil").click()
                    title = page.locator("input").first
                    title.wait_for(timeout=60_000)
                    for attempt in range(2):
                        title.fill(f"Accueil, version {round_}.{attempt}")
                        started = time.perf_counter()
                        with page.expect_response(is_persist) as persisted:
                            page.get_by_role("button", name="Enregistrer").first.click()
                        page.get_by_text("Entrée enregistrée").first.wait_for(timeout=60_000)
                        saves.append((time.perf_counter() - started) * 1000)
                        timing = persisted.value.request.timing
                        persists.append(timing["responseEnd"] - timing["requestStart"])
                        page.locator(".Toastify__close-button").first.click()
                        page.get_by_text("Entrée enregistrée").first.wait_for(state="detached")
                    context.close()
                browser.close()
        finally:
            server.stop()
        report("sign-in to the first list", logins, 1000)
        report("sign-in until every draft is loaded", drafts, 6000)
        report("first opening after the sign-in", firsts, 300)
        report("opening an entry (350-person relation)", opens, 300)
        report("a save (a draft commit)", saves, 150)
        report("  of which the persistEntry request", persists, 150)


if __name__ == "__main__":
    main()
