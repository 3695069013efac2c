"""Decap's i18n: the locales of a collection, where each locale's values are stored, and which
fields are translated.

The top-level ``i18n`` (``structure``, ``locales``, ``default_locale``) applies to every
collection whose own ``i18n`` is ``true``; a collection's ``i18n`` mapping overrides any of the
three. The structures, as Decap writes them:

* ``multiple_folders``: ``<folder>/<locale>/<slug>.<extension>``;
* ``multiple_files``: ``<folder>/<slug>.<locale>.<extension>``;
* ``single_file``: ``<folder>/<slug>.<extension>``, holding ``{<locale>: {fields...}}``.

A field's ``i18n`` is ``true`` (or ``translate``: each locale has its own value), ``duplicate``
(each locale has a copy) or ``none`` (the default: only the default locale holds it, and every
locale reads that value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cms.errors import ConfigError

STRUCTURES = ("multiple_folders", "multiple_files", "single_file")
TRANSLATE, DUPLICATE, NONE = "translate", "duplicate", "none"


@dataclass(frozen=True)
class I18n:
    structure: str
    locales: tuple[str, ...]
    default: str

    def describe(self) -> dict[str, Any]:
        return {
            "structure": self.structure,
            "locales": list(self.locales),
            "default_locale": self.default,
        }


def read_i18n(raw: Any, base: I18n | None, source: str, what: str, line: int | None) -> I18n | None:
    """The i18n settings of the top level (``base`` None) or of a collection."""
    if raw is None or raw is False:
        return None
    if raw is True:
        if base is None:
            raise ConfigError(source, f"{what}: `i18n: true` needs a top-level `i18n`", line)
        return base
    if not isinstance(raw, Mapping):
        raise ConfigError(source, f"{what}: `i18n` must be true or a mapping", line)
    structure = raw.get("structure", base.structure if base else None)
    if structure not in STRUCTURES:
        raise ConfigError(
            source, f"{what}: i18n `structure` must be one of {', '.join(STRUCTURES)}", line
        )
    locales = raw.get("locales", list(base.locales) if base else None)
    if (
        not isinstance(locales, list)
        or not locales
        or not all(isinstance(locale, str) and locale.strip() for locale in locales)
    ):
        raise ConfigError(source, f"{what}: i18n `locales` must be a list of locale codes", line)
    locales = [str(locale) for locale in locales]
    default = raw.get("default_locale")
    if default is None:
        default = base.default if base is not None and base.default in locales else locales[0]
    if default not in locales:
        raise ConfigError(
            source, f"{what}: i18n `default_locale` {default!r} is not in `locales`", line
        )
    return I18n(structure, tuple(locales), str(default))


def field_mode(raw: Any) -> str:
    """A field's ``i18n`` option as one of TRANSLATE, DUPLICATE, NONE."""
    if raw is True or raw == TRANSLATE:
        return TRANSLATE
    if raw == DUPLICATE:
        return DUPLICATE
    return NONE
