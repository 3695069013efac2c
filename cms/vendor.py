"""The Decap CMS app served at ``/admin/``: a pinned npm release, fetched once and checked.

The app is a 5 MB bundle and 94 lazy chunks (6.4 MB without source maps); it is not kept in
this repository. ``cms decap install`` (run by ``make run``, ``make test`` and the Dockerfile)
downloads the release's tarball from the npm registry, checks it against the integrity hash
pinned here (the registry's own ``dist.integrity``), and keeps the browser files: the bundle,
its chunks and WebAssembly, and its licence notices, each JavaScript file also gzip-compressed
so that it is served compressed without compressing it per request. The server then works with
no internet.

To update: set ``DECAP_VERSION`` and ``DECAP_INTEGRITY`` from
``npm view decap-cms@<version> dist.integrity``, and run ``cms decap install``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

DECAP_VERSION = "3.16.3"
DECAP_INTEGRITY = (
    "sha512-hf+dPlCh7TJmWl8+6VRzHYOWhri5xgUknrZbDewaWe4s9B7xJ8PQugp2QHeSldMUKzav6+z0oIpwUYhUJDYtYw"
    "=="
)
DEFAULT_REGISTRY = "https://registry.npmjs.org"
ROOT = Path(__file__).resolve().parent / "api" / "static" / "decap"


def app_folder(root: Path = ROOT) -> Path:
    return root / DECAP_VERSION


def installed(root: Path = ROOT) -> bool:
    return (app_folder(root) / "decap-cms.js").is_file()


def _kept(name: str) -> bool:
    """The browser files of ``dist/``: the bundle and its chunks (not the deprecated ``cms.js``
    copies, not the source maps), the WebAssembly and the licence notices."""
    if "/" in name or name.endswith(".map"):
        return False
    return name.endswith((".decap-cms.js", ".wasm")) or name in {
        "decap-cms.js",
        "decap-cms.js.LICENSE.txt",
    }


def check_integrity(data: bytes, integrity: str = DECAP_INTEGRITY) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise ValueError(
            f"the downloaded decap-cms {DECAP_VERSION} does not match its pinned integrity "
            f"hash ({integrity[:24]}...): refusing it"
        )


def install(root: Path = ROOT, registry: str | None = None, tarball: Path | None = None) -> Path:
    """Fetch (or read ``tarball``), check and unpack the pinned release; returns its folder."""
    target = app_folder(root)
    if installed(root):
        return target
    if tarball is not None:
        data = tarball.read_bytes()
    else:
        base = (registry or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")
        url = f"{base}/decap-cms/-/decap-cms-{DECAP_VERSION}.tgz"
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    check_integrity(data)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".decap-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("package/dist/")
                if member.name == name or not member.isfile() or not _kept(name):
                    continue
                extracted = archive.extractfile(member)
                assert extracted is not None
                content = extracted.read()
                (staging / name).write_bytes(content)
                if name.endswith(".js"):
                    (staging / f"{name}.gz").write_bytes(gzip.compress(content, 9, mtime=0))
        (staging / "LICENSE").write_text(
            f"decap-cms {DECAP_VERSION}: MIT License, Copyright (c) 2016 Netlify and the Decap "
            "CMS contributors (https://github.com/decaporg/decap-cms). The notices of the "
            "libraries in the bundle are in decap-cms.js.LICENSE.txt.\n",
            encoding="utf-8",
        )
        try:
            os.replace(staging, target)  # all of it or nothing
        except OSError:
            if not installed(root):  # not another install that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
