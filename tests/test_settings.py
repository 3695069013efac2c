"""Settings: the README's table equals the code's, and values are read as documented."""

from __future__ import annotations

import re

import pytest

from cms.settings import PROJECT_ROOT, SETTINGS, read_settings


def readme_settings() -> list[tuple[str, str, str]]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(CMS_[A-Z_]+)` \| (.+?) \| (.+?) \|$", text, re.MULTILINE)
    return [(name, meaning, default) for name, meaning, default in rows]


def test_readme_table_equals_the_settings_table() -> None:
    documented = readme_settings()
    expected = [(s.name, s.help, f"`{s.default}`" if s.default else "(none)") for s in SETTINGS]
    assert documented == expected


def test_values_and_defaults(tmp_path) -> None:
    values = read_settings(
        {"CMS_INSTANCE": str(tmp_path)},
        environ={"CMS_PUBLIC_READ": "false", "CMS_CORS_ORIGINS": "https://a.fr, https://b.fr"},
    )
    assert values["CMS_PUBLIC_READ"] is False
    assert values["CMS_CORS_ORIGINS"] == ("https://a.fr", "https://b.fr")
    assert values["CMS_CONFIG"] == "admin/config.yml"
    assert values["CMS_REPO"] is None
    assert values["CMS_INSTANCE"] == tmp_path
    with pytest.raises(ValueError, match="CMS_PUBLIC_READ"):
        read_settings(environ={"CMS_PUBLIC_READ": "sometimes"})
