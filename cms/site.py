"""Opening the content repository that the settings name (seeding the sample one if need be)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

from cms.content import ContentService
from cms.index import Catalog
from cms.settings import PROJECT_ROOT
from cms.storage import GitStore
from cms.storage.lock import LockTimeout
from cms.storage.seed import seed_repository


def repository_path(settings: Mapping[str, object]) -> Path:
    """``CMS_REPO``, or ``instance/site`` seeded from the project's ``content/`` on first use."""
    instance = Path(str(settings["CMS_INSTANCE"])).resolve()
    configured = settings["CMS_REPO"]
    if configured is None:
        path = instance / "site"
        # The checkout's content/ (make run), else ./content (an installed package: the
        # Docker image's working directory holds it).
        sample = PROJECT_ROOT / "content"
        if not sample.is_dir():
            sample = Path.cwd() / "content"
        if not (path / ".git").exists() and not sample.is_dir():
            raise ValueError("CMS_REPO is not set and there is no sample content/ to seed from")
        seed_repository(sample, path)
    else:
        path = Path(str(configured)).resolve()
    if instance == path or path in instance.parents:
        raise ValueError(f"CMS_INSTANCE ({instance}) must not be inside CMS_REPO ({path})")
    return path


def open_catalog(service: ContentService, settings: Mapping[str, object]) -> Catalog:
    """The index of the published branch, under ``CMS_INSTANCE/index`` (built on demand)."""
    limit = float(settings.get("CMS_SQL_TIME_LIMIT_MS", 0) or 0) / 1000  # type: ignore[arg-type]
    return Catalog(service, Path(str(settings["CMS_INSTANCE"])) / "index", limit)


def open_site(settings: Mapping[str, object]) -> ContentService:
    """The content service of the configured repository; its published head's model must load."""
    instance = Path(str(settings["CMS_INSTANCE"]))
    store = GitStore(
        repository_path(settings),
        settings["CMS_BRANCH"],  # type: ignore[arg-type]
        lock_folder=instance / "locks",
        lock_timeout=float(settings.get("CMS_LOCK_TIMEOUT", 10)),  # type: ignore[arg-type]
    )
    if settings.get("CMS_REMOTE"):
        store.connect(
            str(settings["CMS_REMOTE"]),
            instance / "remote.json",
            float(settings.get("CMS_REMOTE_TIMEOUT", 30)),  # type: ignore[arg-type]
        )
    service = ContentService(store, str(settings["CMS_CONFIG"]))
    try:
        # A write this server was making when it was killed. If a long write of another
        # process holds the lock, the next write recovers instead.
        with contextlib.suppress(LockTimeout):
            store.recover()
        service.snapshot()
    except BaseException:
        store.close()
        raise
    return service
