"""A problem found in an entry: where (a field path) and what (a message)."""

from __future__ import annotations

from dataclasses import dataclass

FieldPath = tuple[str | int, ...]


def format_path(path: FieldPath) -> str:
    """``("hero", "btn", "url")`` → ``hero.btn.url``; list items by index: ``medias.tiles.0``."""
    return ".".join(str(part) for part in path)


@dataclass(frozen=True)
class Problem:
    path: FieldPath
    message: str

    @property
    def field(self) -> str:
        return format_path(self.path)

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}
