"""A git-backed headless CMS: a Decap CMS site's repository served as a versioned JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cms.settings import read_settings

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None):
    """Build the WSGI app: settings → repository → model check → index → API → docs.

    The index of the published branch is built in the background if it is missing; until it
    is, `/readyz` answers 503 and lists and searches wait for it a moment, then answer 503.

    Fails at once, with a message naming the file, the line and the problem, when the content
    repository or its Decap config cannot be loaded.
    """
    from flask import Flask

    from cms.api import init_api
    from cms.background import Background
    from cms.site import open_catalog, open_site

    settings = read_settings(test_config)
    service = open_site(settings)
    catalog = open_catalog(service, settings)
    app = Flask(
        __name__,
        instance_path=str(settings["CMS_INSTANCE"]),
        static_folder="api/static",
        static_url_path="/static",
    )
    app.config.update(settings)
    app.config["CMS_REPO"] = str(service.store.path)
    app.config["CMS_BRANCH"] = service.store.branch
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if not k.startswith("CMS_")})
    init_api(app, service, catalog)
    catalog.start()
    background = Background(
        background_tasks(service, catalog, settings, app.extensions["cms.webhooks"])
    )
    app.extensions["cms.background"] = background
    if not app.testing:  # tests tick it themselves
        background.start()
    return app


def background_tasks(service, catalog, settings: Mapping[str, Any], webhooks) -> list:
    """What the server does on its own (see ``cms.background``)."""
    from cms.background import IndexTask, ScheduleTask, SyncTask
    from cms.storage.git import Identity

    instance = Path(str(settings["CMS_INSTANCE"]))
    tasks: list = []
    sync = service.store.sync
    if sync is not None:
        interval = float(settings["CMS_SYNC_INTERVAL"])
        tasks.append(SyncTask(sync, interval, instance / "locks" / "sync.lock"))
    committer = Identity(str(settings["CMS_COMMITTER_NAME"]), str(settings["CMS_COMMITTER_EMAIL"]))
    tasks.append(ScheduleTask(service.store, committer, instance / "locks" / "schedules.lock"))
    # Last: what the others fetched or published is indexed and gets its events.
    return [*tasks, IndexTask(catalog), webhooks]
