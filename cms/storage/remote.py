"""The team's remote (``CMS_REMOTE``): every ref this server moves is pushed there first, and
what others pushed is fetched from it.

Pushes are compare-and-swaps: ``git push --force-with-lease=<ref>:<expected>`` moves a remote
branch only if it still points where this server last saw it, and ``--atomic`` makes a push of
several refs all or nothing. A write pushes its commit before it moves the local branch, so a
write the remote refused, or could not take, changes nothing here (its objects stay unreachable
until ``git gc``). A process killed between the push and the local move leaves the remote one
commit ahead, which the next fetch brings back.

The remote's URL reaches git through ``GIT_CONFIG_*`` variables (never a command line, which
every user of the machine can read), under the remote name ``cms-remote`` with its branches
tracked in ``refs/remotes/cms-remote/``. Credentials in the URL never appear in a message:
``redact`` removes them from git's output before it is logged or answered.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from cms.errors import CMSError
from cms.storage import command
from cms.storage.lock import WriteLock

NAME = "cms-remote"
TRACKING = f"refs/remotes/{NAME}/"
# What git's push report says when a branch on the remote is not where the lease expected it:
# found before the push (stale info...), or by the remote's own compare-and-swap when another
# push got there between its advertisement and its update (the last three).
MOVED = (
    "stale info",
    "fetch first",
    "non-fast-forward",
    "atomic transaction failed",
    "failed to update ref",
    "cannot lock ref",
)
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


class RemoteUnavailable(CMSError):
    """The remote cannot be reached: writes wait for it, reads go on."""

    status = 503

    def __init__(self, detail: str) -> None:
        super().__init__(
            "the team's git remote cannot be reached; nothing was written, try again later",
            {"remote": detail, "retry_after": 30},
        )
        self.retry_after = 30


class RemoteRefused(CMSError):
    """The remote refused the push for a reason of its own (a protected branch, a hook)."""

    status = 502


class RemoteMoved(CMSError):
    """A branch on the remote is not where this server expected: someone pushed meanwhile."""

    status = 409

    def __init__(self, branches: list[str]) -> None:
        super().__init__(
            "the remote moved meanwhile; nothing was written", {"branches": sorted(branches)}
        )
        self.branches = branches


@dataclass(frozen=True)
class Update:
    """Move ``ref`` on the remote from ``old`` to ``new`` (None: absent)."""

    ref: str
    old: str | None
    new: str | None

    @classmethod
    def branch(cls, name: str, old: str | None, new: str | None) -> Update:
        return cls(f"refs/heads/{name}", old, new)


def redact(text: str, url: str = "") -> str:
    """``text`` without the user name and password of any URL in it."""
    cleaned = USERINFO.sub(r"\1***@", text)
    parts = urlsplit(url) if "://" in url else None
    # The password; or, without one, the user name (``https://<token>@host/...``).
    secret = parts and (parts.password or parts.username)
    if secret:
        for form in {secret, unquote(secret), quote(unquote(secret), safe="")}:
            if len(form) >= 3:
                cleaned = cleaned.replace(form, "***")
    return cleaned


class Remote:
    """Push to and fetch from one remote, for the repository at ``root``."""

    def __init__(self, root: Path, url: str, timeout: float, lock: WriteLock) -> None:
        if not url.strip():
            raise ValueError("CMS_REMOTE is empty")
        self.root = root
        # Fetches and pushes update the same tracking refs: one at a time, across processes
        # (a sync fetches without the write lock, while a write may push or catch up).
        self.lock = lock
        self.url = url.strip()
        self.timeout = timeout
        self.config: tuple[tuple[str, str], ...] = (
            (f"remote.{NAME}.url", self.url),
            (f"remote.{NAME}.fetch", f"+refs/heads/*:{TRACKING}*"),
            # Scheduled publishes are refs too (``schedules``), kept as the remote has them.
            (f"remote.{NAME}.fetch", "+refs/cms/schedules/*:refs/cms/schedules/*"),
            # A connection that stalls below 1 kB/s for the timeout is given up (HTTP).
            ("http.lowSpeedLimit", "1000"),
            ("http.lowSpeedTime", str(max(1, int(timeout)))),
        )
        if not _ssh_configured(root):
            # ssh never asks for a passphrase or a host key on the server's terminal: it
            # fails, and the remote counts as unreachable (the key must be in ssh's config).
            seconds = max(1, int(timeout))
            self.config += (
                ("core.sshCommand", f"ssh -o BatchMode=yes -o ConnectTimeout={seconds}"),
            )

    @property
    def shown(self) -> str:
        """The URL without credentials, for status pages and logs."""
        return redact(self.url, self.url)

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return command.run(self.root, args, config=self.config, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise RemoteUnavailable(f"no answer from {self.shown} in {self.timeout:g} s") from None

    def _failure(self, result: subprocess.CompletedProcess) -> str:
        lines = redact(command.stderr_text(result), self.url).splitlines()
        useful = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
        return " ".join(useful[-2:])[:500] or f"git exited with {result.returncode}"

    def fetch(self) -> None:
        """Bring the remote's branches into ``refs/remotes/cms-remote/`` (deleted ones too)."""
        with self.lock.hold():
            done = self._git(
                "fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", NAME
            )
        if done.returncode != 0:
            raise RemoteUnavailable(self._failure(done))

    def tracking(self) -> dict[str, str]:
        """The remote's branches as last fetched or pushed: name → commit."""
        listed = command.run(
            self.root, ["for-each-ref", "--format=%(objectname) %(refname)", TRACKING]
        )
        found = {}
        for line in listed.stdout.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition(" ")
            found[ref.removeprefix(TRACKING)] = sha
        found.pop("HEAD", None)
        return found

    def push(self, updates: list[Update]) -> None:
        """Make every update on the remote, or none: RemoteMoved when a branch there is not at
        its ``old``, RemoteRefused when the remote says no, RemoteUnavailable when it cannot be
        reached."""
        if not updates:
            return
        args = ["push", "--porcelain", "--atomic", "--no-verify", "--quiet", NAME]
        leases = [f"--force-with-lease={u.ref}:{u.old or ''}" for u in updates]
        specs = [f"{u.new or ''}:{u.ref}" for u in updates]
        with self.lock.hold():
            done = self._git(*args[:-1], *leases, NAME, *specs)
            if done.returncode == 0:
                self._track(updates)
                return
        report = done.stdout.decode("utf-8", "replace").splitlines()
        refused = [line for line in report if line.startswith("!")]
        if not refused:
            raise RemoteUnavailable(self._failure(done))
        moved, other = [], []
        for line in refused:
            _, ref, summary = [*line.split("\t"), "", ""][:3]
            branch = ref.partition(":")[2].removeprefix("refs/heads/")
            if any(reason in summary for reason in MOVED):
                moved.append(branch)
            elif "atomic push failed" not in summary:
                other.append(f"{branch}: {redact(summary, self.url)}")
        if other:
            raise RemoteRefused(
                "the team's git remote refused the push; nothing was written",
                {"remote": "; ".join(other)},
            )
        raise RemoteMoved(moved or [u.ref.removeprefix("refs/heads/") for u in updates])

    def _track(self, updates: list[Update]) -> None:
        """Record what the remote now holds (git does it for pushes that name the remote, but
        not for deletions of refs it had not fetched)."""
        for update in updates:
            if not update.ref.startswith("refs/heads/"):
                continue
            ref = TRACKING + update.ref.removeprefix("refs/heads/")
            if update.new:
                command.run(self.root, ["update-ref", ref, update.new])
            else:
                command.run(self.root, ["update-ref", "-d", ref])


def _ssh_configured(root: Path) -> bool:
    """Whether the environment or git's configuration already says how to run ssh."""
    if os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH"):
        return True
    found = command.run(root, ["config", "--get", "core.sshCommand"])
    return found.returncode == 0 and bool(found.stdout.strip())
