"""Content: front matter parsing, entries, list queries and the read use cases."""

from cms.content.document import Document, parse
from cms.content.entry import Entry
from cms.content.query import Page, Query
from cms.content.service import ContentService, Snapshot

__all__ = ["ContentService", "Document", "Entry", "Page", "Query", "Snapshot", "parse"]
