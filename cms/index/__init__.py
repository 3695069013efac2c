"""The index: the entries at the published branch's head in SQLite, kept current from git, for
fast lists, relation includes and full-text search."""

from cms.index.catalog import Catalog, IndexNotReady, Status
from cms.index.index import Hit, Hits, Index

__all__ = ["Catalog", "Hit", "Hits", "Index", "IndexNotReady", "Status"]
