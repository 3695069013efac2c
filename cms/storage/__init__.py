"""Git storage: reading blobs and trees at a commit, refs, history, and seeding a repository."""

from cms.storage.git import Change, GitStore, Ref, TreeEntry

__all__ = ["Change", "GitStore", "Ref", "TreeEntry"]
