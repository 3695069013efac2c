"""One table of settings: name, default, help. Read from the environment with the prefix ``CMS_``.

``create_app(test_config)`` takes the same names (``{"CMS_REPO": ...}``). The README's settings
table is checked against this one by a test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CMS_REPO",
        None,
        "Path of the content git repository (a work tree). Unset: `instance/site`, seeded from "
        "the project's `content/` on first start.",
    ),
    Setting("CMS_BRANCH", None, "The published branch. Unset: the repository's current branch."),
    Setting(
        "CMS_CONFIG",
        "admin/config.yml",
        "Repository-relative path of the Decap `config.yml` that defines the content model.",
    ),
    Setting(
        "CMS_INSTANCE",
        "instance",
        "Folder for tokens, index and queues; never inside the content repository.",
    ),
    Setting("CMS_PUBLIC_READ", "true", "Anonymous clients may read the published branch."),
    Setting("CMS_COMMITTER_NAME", "CMS", "Committer name of the commits the server makes."),
    Setting(
        "CMS_COMMITTER_EMAIL", "cms@localhost", "Committer email of the commits the server makes."
    ),
    Setting("CMS_MAX_BODY_BYTES", "1048576", "Largest request body accepted; larger is a 413."),
    Setting(
        "CMS_MEDIA_MAX_BYTES",
        "10485760",
        "Largest media file accepted (uploads through the API and the editor); larger is a 413.",
    ),
    Setting(
        "CMS_MEDIA_TYPES",
        "png,jpg,jpeg,gif,webp,avif,svg,pdf",
        "Comma-separated file extensions media uploads may have (their content is checked too).",
    ),
    Setting("CMS_LOCK_TIMEOUT", "10", "Seconds a write waits for the write lock before a 503."),
    Setting(
        "CMS_SQL_TIME_LIMIT_MS",
        "1000",
        "Milliseconds the index queries of one list or search may run; past it, a 400 (0: none).",
    ),
    Setting(
        "CMS_SHARED_MAX_AGE",
        "1",
        "Seconds a shared cache (nginx, a CDN) may answer the published branch's URLs before "
        "it revalidates them (`s-maxage`; 0: `no-cache`).",
    ),
    Setting(
        "CMS_REQUEST_LOG",
        "true",
        "One JSON line per request on stderr (method, path, status, duration, commit, request id).",
    ),
    Setting(
        "CMS_REMOTE",
        None,
        "The team's git remote (an HTTPS or SSH URL, or a path): every commit is pushed there "
        "first, and its branches are fetched. Unset: the repository is the only copy.",
    ),
    Setting(
        "CMS_SYNC_INTERVAL",
        "30",
        "Seconds between two fetches of `CMS_REMOTE` (a push notification to "
        "`/api/v1/hooks/git` fetches at once).",
    ),
    Setting(
        "CMS_REMOTE_TIMEOUT",
        "30",
        "Seconds a push or fetch may take before the remote counts as unreachable.",
    ),
    Setting(
        "CMS_HOOK_SECRET",
        None,
        "Secret of the git host's push webhook (`/api/v1/hooks/git`); unset, that URL is off.",
    ),
    Setting(
        "CMS_WEBHOOK_BACKOFF",
        "10",
        "Seconds before a failed webhook delivery is tried again; the delay doubles each time "
        "(at most an hour, with jitter) for 24 hours.",
    ),
    Setting(
        "CMS_CORS_ORIGINS",
        "",
        "Comma-separated origins allowed to call the API from a browser (`*` for any).",
    ),
)

SECONDS = ("CMS_LOCK_TIMEOUT", "CMS_SYNC_INTERVAL", "CMS_REMOTE_TIMEOUT", "CMS_WEBHOOK_BACKOFF")
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ValueError(f"{name}: expected true or false, got {value!r}")


def read_settings(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Every setting's value: ``overrides`` first, then the environment, then the default."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, object] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            values[setting.name] = overrides[setting.name]
        elif setting.name in environ:
            values[setting.name] = environ[setting.name]
        else:
            values[setting.name] = setting.default
    for name in ("CMS_PUBLIC_READ", "CMS_REQUEST_LOG"):
        if isinstance(values[name], str):
            values[name] = parse_bool(name, values[name])
    for name in ("CMS_MAX_BODY_BYTES", "CMS_MEDIA_MAX_BYTES", *SECONDS):
        raw = values[name]
        try:
            number = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number, got {raw!r}") from None
        if number <= 0:
            raise ValueError(f"{name}: must be more than 0")
        values[name] = number if name in SECONDS else int(number)
    raw = values["CMS_SHARED_MAX_AGE"]
    try:
        shared = int(str(raw))
    except ValueError:
        raise ValueError(f"CMS_SHARED_MAX_AGE: expected whole seconds, got {raw!r}") from None
    if shared < 0:
        raise ValueError("CMS_SHARED_MAX_AGE: must be 0 (no shared caching) or more")
    values["CMS_SHARED_MAX_AGE"] = shared
    raw = values["CMS_SQL_TIME_LIMIT_MS"]
    try:
        limit = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"CMS_SQL_TIME_LIMIT_MS: expected a number, got {raw!r}") from None
    if limit < 0:
        raise ValueError("CMS_SQL_TIME_LIMIT_MS: must be 0 (no limit) or more")
    values["CMS_SQL_TIME_LIMIT_MS"] = limit
    types = values["CMS_MEDIA_TYPES"]
    if isinstance(types, str):
        listed = tuple(t.strip().lower().lstrip(".") for t in types.split(",") if t.strip())
        unsafe = {"md", "markdown", "html", "htm", "js", "mjs", "yml", "yaml", "json", "toml"}
        if set(listed) & unsafe:
            raise ValueError(
                "CMS_MEDIA_TYPES: content, page and script types cannot be media: "
                + ", ".join(sorted(set(listed) & unsafe))
            )
        values["CMS_MEDIA_TYPES"] = listed
    for name in ("CMS_REMOTE", "CMS_HOOK_SECRET"):
        if isinstance(values[name], str) and not str(values[name]).strip():
            values[name] = None
    origins = values["CMS_CORS_ORIGINS"]
    if isinstance(origins, str):
        values["CMS_CORS_ORIGINS"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    instance = Path(str(values["CMS_INSTANCE"]))
    if not instance.is_absolute():
        instance = (Path.cwd() / instance).resolve()
    values["CMS_INSTANCE"] = instance
    return values
