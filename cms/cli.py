"""The ``cms`` command: serve, validate, index, tokens, openapi, decap."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cms.errors import CMSError
from cms.settings import read_settings


def _fail(error: Exception) -> None:
    message = error.message if isinstance(error, CMSError) else str(error)
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def main() -> None:
    """A git-backed headless CMS. Settings come from CMS_* environment variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=int,
    envvar="CMS_WORKERS",
    help="gunicorn workers",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=int,
    envvar="CMS_THREADS",
    help="threads per worker",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the API with gunicorn (the same app as `gunicorn 'cms:create_app()'`), its
    workers' metrics added up at /metrics."""
    import os
    import shutil

    from gunicorn.app.base import BaseApplication

    from cms import create_app
    from cms.site import open_site

    try:
        # Checked once here, so that a broken repository or config stops the command with a
        # clear message instead of every worker failing in turn. The index is built by the
        # workers (in the background, by one of them) if it is missing.
        open_site(read_settings()).store.close()
    except (CMSError, ValueError) as exc:
        _fail(exc)
    # Each worker writes its metrics here (prometheus_client's multiprocess mode, chosen when
    # it is imported: the workers import the app after this is set); emptied at each start.
    shared = Path(str(read_settings()["CMS_INSTANCE"])) / "metrics"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared)

    def child_exit(_server, worker) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            # gthread, answering gunicorn's own errors (a request line that is too long...)
            # in the API's JSON error shape.
            self.cfg.set("worker_class", "cms.serving.Worker")
            self.cfg.set("limit_request_line", 8190)  # gunicorn's largest: long filter URLs
            self.cfg.set("child_exit", child_exit)
            # gunicorn 25+ opens a control socket shared by every server of the user
            # (~/.gunicorn/gunicorn.ctl): stopping one server would break another's.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            return create_app()

    Server().run()


@main.command()
@click.option("--ref", default=None, help="Branch, tag or commit (default: the published branch).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def validate(ref: str | None, fmt: str) -> None:
    """Check every entry of every collection against the model.

    Prints one line per problem (`path: field: message`) and exits with 1 if there is any
    error; unknown widgets are warnings and do not change the exit code.
    """
    from cms.content.validation import validate as check
    from cms.site import open_site

    try:
        service = open_site(read_settings())
        snap = service.snapshot(ref)
        findings = check(snap)
    except (CMSError, ValueError) as exc:
        _fail(exc)
    errors = [f for f in findings if f.severity == "error"]
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "commit": snap.commit,
                    "errors": len(errors),
                    "warnings": len(findings) - len(errors),
                    "problems": [f.as_dict() for f in findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for finding in findings:
            click.echo(finding.line())
        entries = sum(len(snap.entries(c)) for c in snap.collections())
        click.echo(
            f"{entries} entries checked at {snap.commit[:12]}: {len(errors)} error(s), "
            f"{len(findings) - len(errors)} warning(s)",
            err=True,
        )
    service.store.close()
    sys.exit(1 if errors else 0)


@main.group()
def index() -> None:
    """The index of the published branch (CMS_INSTANCE/index): rebuild it, or see its state."""


def _catalog():
    from cms.site import open_catalog, open_site

    settings = read_settings()
    service = open_site(settings)
    return open_catalog(service, settings)


STAGES = {"parse": "Parsing files", "index": "Indexing entries", "history": "Reading history"}


@index.command("rebuild")
def index_rebuild() -> None:
    """Build the index from nothing and put it in place of the old one at once.

    Files parsed before (by any branch) come from the parse cache; delete
    CMS_INSTANCE/index/parsed.sqlite to parse everything again.
    """
    import time

    try:
        catalog = _catalog()
    except (CMSError, ValueError) as exc:
        _fail(exc)
    bars: dict[str, object] = {}
    started = time.monotonic()

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = click.progressbar(
                length=total, label=STAGES.get(stage, stage).ljust(17), file=sys.stderr
            )
            bar.__enter__()  # type: ignore[attr-defined]
        bar.update(done - bar.pos)  # type: ignore[attr-defined]
        if done >= total:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]

    try:
        status = catalog.rebuild(progress)
    except (CMSError, ValueError) as exc:
        _fail(exc)
    finally:
        catalog.close()
        catalog.store.close()
    click.echo(
        f"indexed {status.entries} entries at {status.commit} in "
        f"{time.monotonic() - started:.1f} s ({status.bytes / 1e6:.1f} MB)",
        err=True,
    )


@index.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def index_status(fmt: str) -> None:
    """Show the index's commit, the branch head, and whether it is current (exit 1 if not)."""
    try:
        catalog = _catalog()
        status = catalog.status()
    except (CMSError, ValueError) as exc:
        _fail(exc)
    catalog.close()
    catalog.store.close()
    state = "current" if status.current else ("behind" if status.built else "not built")
    if fmt == "json":
        payload = {
            "state": state,
            "path": str(status.path),
            "commit": status.commit,
            "head": status.head,
            "entries": status.entries,
            "bytes": status.bytes,
            "built_at": status.built_at,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(f"index:   {status.path}")
        click.echo(f"state:   {state}")
        click.echo(f"commit:  {status.commit or '-'}")
        click.echo(f"head:    {status.head}")
        click.echo(f"entries: {status.entries}")
        click.echo(f"size:    {status.bytes / 1e6:.1f} MB")
        click.echo(f"built:   {status.built_at or '-'}")
    sys.exit(0 if status.current else 1)


@main.group()
def tokens() -> None:
    """Manage API tokens (stored hashed in CMS_INSTANCE/tokens.json)."""


def _token_store():
    from cms.auth import TokenStore

    return TokenStore(Path(str(read_settings()["CMS_INSTANCE"])))


@tokens.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["reader", "editor", "admin"]), default="editor", show_default=True
)
@click.option("--email", default=None, help="Email of the commits made with it (author).")
def tokens_create(name: str, role: str, email: str | None) -> None:
    """Create a token and print it, this once: NAME is the commits' author name."""
    try:
        token, secret = _token_store().create(name, role, email)
    except CMSError as exc:
        _fail(exc)
    click.echo(secret)
    click.echo(f"token {token.id} for {token.name} <{token.email}>, role {token.role}", err=True)


@tokens.command("list")
def tokens_list() -> None:
    """List the tokens (never their values)."""
    for token in _token_store().list():
        click.echo(f"{token.id}\t{token.role}\t{token.name} <{token.email}>\t{token.created_at}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (the first column of `cms tokens list`)."""
    try:
        token = _token_store().revoke(token_id)
    except CMSError as exc:
        _fail(exc)
    click.echo(f"revoked {token.id} ({token.name})", err=True)


def openapi_document() -> str:
    """The OpenAPI document of the API, as written to openapi/openapi.json."""
    from flask import Flask
    from flask_smorest import Api

    from cms.api import DOCS_CONFIG, register_blueprints

    app = Flask("cms")
    app.config.update(DOCS_CONFIG)
    api = Api(app)
    register_blueprints(app, api)
    return json.dumps(api.spec.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(output: Path | None) -> None:
    """Print the OpenAPI document, or write it to --output."""
    document = openapi_document()
    if output is None:
        click.echo(document, nl=False)
    else:
        output.write_text(document, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@main.group()
def decap() -> None:
    """The Decap CMS editor served at /admin/."""


@decap.command("install")
@click.option(
    "--tarball",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A decap-cms .tgz already downloaded (checked all the same).",
)
def decap_install(tarball: Path | None) -> None:
    """Fetch the pinned Decap CMS release from the npm registry, check its integrity hash and
    unpack its browser files (nothing to do when it is there)."""
    from cms.vendor import DECAP_VERSION, install, installed

    if installed():
        click.echo(f"decap-cms {DECAP_VERSION} is installed", err=True)
        return
    try:
        folder = install(tarball=tarball)
    except (OSError, ValueError) as exc:
        _fail(exc)
    click.echo(f"installed decap-cms {DECAP_VERSION} in {folder}", err=True)


if __name__ == "__main__":
    main()
