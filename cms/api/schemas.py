"""Marshmallow schemas of the API's JSON. The read views build their JSON by hand for speed;
these schemas document it in the OpenAPI spec."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from cms.content.changes import MAX_MESSAGE

SHA = {"pattern": "^[0-9a-f]{40}$", "example": "478d0a2abbe86093c90f2c5cb21c7f9caba47634"}


def commit_message(description: str, required: bool = False, **metadata: object) -> fields.String:
    """A commit message: 1 to 10,000 characters, not only white space, no NUL (git's fsck
    refuses a commit that holds one)."""
    return fields.String(
        required=required,
        validate=[
            validate.Length(1, MAX_MESSAGE),
            validate.Regexp(
                r"^[^\x00]*[^\s\x00][^\x00]*$",
                error="a commit message is more than white space, and holds no NUL character",
            ),
        ],
        metadata={"description": description, **metadata},
    )


class ProblemSchema(Schema):
    field = fields.String(
        allow_none=True,
        metadata={"description": "Dotted path of the field (`hero.btn.url`), null for the file."},
    )
    message = fields.String(metadata={"example": "is required"})


class FileSchema(Schema):
    name = fields.String(metadata={"example": "accueil"})
    label = fields.String(metadata={"example": "Page d'accueil"})
    file = fields.String(metadata={"example": "pages/accueil.md"})
    fields_ = fields.List(fields.Dict(), data_key="fields")


class CollectionSchema(Schema):
    name = fields.String(metadata={"example": "actualites"})
    label = fields.String(metadata={"example": "Actualités"})
    label_singular = fields.String(metadata={"example": "Actualité"})
    description = fields.String(allow_none=True)
    kind = fields.String(
        metadata={"enum": ["folder", "files"], "description": "Decap folder or file collection."}
    )
    create = fields.Boolean(metadata={"description": "Entries may be created (folder only)."})
    delete = fields.Boolean(metadata={"description": "Entries may be deleted."})
    folder = fields.String(metadata={"description": "Folder collections: the entries' folder."})
    extension = fields.String()
    format = fields.String()
    slug = fields.String(metadata={"description": "Decap slug template for new entries."})
    path = fields.String(allow_none=True)
    identifier_field = fields.String()
    sortable_fields = fields.List(fields.String())
    view_filters = fields.List(
        fields.Dict(),
        metadata={"description": "Decap's list filters (`label`, `field`, `pattern`)."},
    )
    view_groups = fields.List(
        fields.Dict(),
        metadata={"description": "Decap's list groupings (`label`, `field`, `pattern`)."},
    )
    index_file = fields.Raw(metadata={"description": "Decap's `index_file` (Hugo's `_index`)."})
    meta = fields.Dict(metadata={"description": "Decap's `meta` (for example `meta.path`)."})
    i18n = fields.Dict(
        allow_none=True,
        metadata={
            "description": "Decap's i18n of the collection: `structure`, `locales`, "
            "`default_locale` (null: one language)."
        },
    )
    problems = fields.List(
        fields.String(),
        metadata={
            "description": "Problems of the config that leave the collection readable, each "
            "naming the file and line; creating entries is refused until they are fixed."
        },
    )
    fields_ = fields.List(
        fields.Dict(),
        data_key="fields",
        allow_none=True,
        metadata={"description": "The fields with their widget and options (folder collections)."},
    )
    files = fields.List(
        fields.Nested(FileSchema),
        allow_none=True,
        metadata={"description": "File collections: each file with its own fields."},
    )


class CollectionDetailSchema(CollectionSchema):
    schema = fields.Dict(
        metadata={"description": "A JSON Schema (2020-12) of the entries' `fields` object."}
    )


class EntrySchema(Schema):
    locale = fields.String(
        metadata={
            "description": "With Decap's i18n: the locale of these values.",
            "example": "fr",
        }
    )
    collection = fields.String(required=True, metadata={"example": "actualites"})
    slug = fields.String(required=True, metadata={"example": "2018-01-16-deuxieme-promotion"})
    path = fields.String(
        required=True, metadata={"example": "actualites/2018-01-16-deuxieme-promotion.md"}
    )
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        metadata={
            "description": "The front matter as the file holds it (dates stay strings).",
            "example": {"title": "Une 2ème promotion…", "date": "2018-01-15 23:00:00 +01:00"},
        },
    )
    body = fields.String(metadata={"description": "The text after the front matter."})
    html = fields.String(metadata={"description": "With `render=html`: the body as safe HTML."})
    version = fields.String(
        required=True, metadata={"description": "Blob sha of the file: the entry's ETag."}
    )
    commit = fields.String(
        required=True, metadata={"description": "The commit this entry was read from.", **SHA}
    )
    updated_at = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Date of the last commit that changed the file."},
    )
    updated_by = fields.String(
        required=True, allow_none=True, metadata={"description": "Its author."}
    )
    problems = fields.List(
        fields.Nested(ProblemSchema),
        required=True,
        metadata={"description": "What breaks the model or could not be parsed; empty if none."},
    )
    included = fields.Dict(
        metadata={
            "description": "With `include=`: each relation field's related entries, "
            "in the order of its values (null where none matches)."
        }
    )


class RefSchema(Schema):
    name = fields.String(metadata={"example": "main"})
    kind = fields.String(metadata={"enum": ["branch", "tag"]})
    commit = fields.String(metadata=SHA)
    published = fields.Boolean(metadata={"description": "The published branch (CMS_BRANCH)."})


class EntryCreateSchema(Schema):
    slug = fields.String(
        metadata={
            "description": "The new entry's slug (its file name). Without it, the slug comes "
            "from the collection's `slug` template and identifier field, as Decap makes it, "
            "with `-1`, `-2`... when taken."
        }
    )
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        metadata={"description": "The front matter, checked against the collection's fields."},
    )
    body = fields.String(metadata={"description": "The text after the front matter."})
    message = commit_message("Commit message. Default: Decap's, `Create <collection> “<slug>”`.")


class EntryReplaceSchema(Schema):
    fields_ = fields.Dict(data_key="fields", required=True)
    body = fields.String(metadata={"description": "The new body; omitted means empty."})
    message = commit_message("Commit message. Default: `Update <collection> “<slug>”`.")


class EntryPatchSchema(Schema):
    fields_ = fields.Dict(
        data_key="fields",
        allow_none=True,
        metadata={
            "description": "A JSON merge patch (RFC 7396) of the fields: a value replaces, "
            "`null` removes, an object merges into the object it names.",
            "example": {"hero": {"btn": {"url": "/candidater"}}},
        },
    )
    body = fields.String(allow_none=True, metadata={"description": "A new body."})
    message = commit_message("Commit message. Default: `Update <collection> “<slug>”`.")


class SearchHitSchema(Schema):
    locale = fields.String(
        metadata={
            "description": "With Decap's i18n: the locale of these values.",
            "example": "fr",
        }
    )
    collection = fields.String(metadata={"example": "pages"})
    slug = fields.String(metadata={"example": "accueil"})
    path = fields.String(metadata={"example": "pages/accueil.md"})
    title = fields.String(
        metadata={"description": "The entry's identifier field (`title`), else its slug."}
    )
    snippet = fields.String(
        metadata={
            "description": "HTML: the best passage, its text escaped, the matched words in "
            "`<mark>`; safe to insert as HTML.",
            "example": "… la <mark>pérennisation</mark> des projets …",
        }
    )
    score = fields.Float(metadata={"description": "Relevance (BM25), higher is better."})
    version = fields.String(metadata={"description": "The blob sha of the entry's file.", **SHA})
    commit = fields.String(metadata={"description": "The commit searched.", **SHA})


class VersionSchema(Schema):
    commit = fields.String(metadata={"description": "The commit that made this version.", **SHA})
    date = fields.String(metadata={"example": "2018-01-16T10:00:00+01:00"})
    author = fields.String(metadata={"example": "Ada Lovelace"})
    email = fields.String(metadata={"example": "ada@example.org"})
    message = fields.String(metadata={"example": "Update Pages “accueil”"})
    change = fields.String(metadata={"enum": ["added", "modified", "renamed", "deleted"]})
    version = fields.String(
        allow_none=True, metadata={"description": "The file's blob sha then (null: deleted)."}
    )
    path = fields.String(metadata={"example": "pages/accueil.md"})
    previous_path = fields.String(
        allow_none=True, metadata={"description": "For a rename, the path before."}
    )


class FieldChangeSchema(Schema):
    path = fields.String(metadata={"example": "hero.btn.url"})
    change = fields.String(metadata={"enum": ["added", "removed", "changed"]})
    old = fields.Raw(metadata={"description": "The value before (not for `added`)."})
    new = fields.Raw(metadata={"description": "The value after (not for `removed`)."})


class SideSchema(Schema):
    ref = fields.String(metadata={"example": "main"})
    commit = fields.String(metadata=SHA)
    version = fields.String(allow_none=True, metadata={"description": "null: no such entry."})
    path = fields.String(allow_none=True)


class DiffSchema(Schema):
    collection = fields.String(metadata={"example": "pages"})
    slug = fields.String(metadata={"example": "accueil"})
    from_ = fields.Nested(SideSchema, data_key="from")
    to = fields.Nested(SideSchema)
    fields_ = fields.List(fields.Nested(FieldChangeSchema), data_key="fields")
    body = fields.String(
        metadata={"description": "The body's changes as a unified diff (empty if none)."}
    )


class SyncItemSchema(Schema):
    change = fields.String(metadata={"enum": ["added", "modified", "renamed", "deleted"]})
    collection = fields.String(metadata={"example": "actualites"})
    slug = fields.String(metadata={"example": "2018-01-16-deuxieme-promotion"})
    path = fields.String()
    version = fields.String(allow_none=True)
    previous = fields.Dict(
        metadata={"description": "For modified, renamed and deleted: slug, path, version before."}
    )
    entry = fields.Nested(
        EntrySchema, allow_none=True, metadata={"description": "The entry now (null: deleted)."}
    )


class SyncSchema(Schema):
    since = fields.String(allow_none=True, metadata=SHA)
    next = fields.String(
        metadata={"description": "The commit read: pass it as `since` next time.", **SHA}
    )
    items = fields.List(fields.Nested(SyncItemSchema))


class RestoreSchema(Schema):
    version = fields.String(
        required=True,
        metadata={
            "description": "A version (blob sha) from the entry's history, or a branch, tag or "
            "commit at which the entry existed.",
            "example": "7c23029ac805882ffe390d4c5d93b8108942e6bc",
        },
    )
    message = commit_message("The commit message.")


class OperationSchema(Schema):
    op = fields.String(required=True, metadata={"enum": ["create", "update", "patch", "delete"]})
    collection = fields.String(required=True, metadata={"example": "pages"})
    slug = fields.String(metadata={"description": "Required except for create (derived)."})
    fields_ = fields.Dict(
        data_key="fields",
        metadata={"description": "create, update: the fields; patch: a JSON merge patch."},
    )
    body = fields.String(allow_none=True)
    if_match = fields.String(
        metadata={"description": "update, patch, delete: the version the change is based on."}
    )


class ChangesetSchema(Schema):
    message = commit_message("The commit message.", required=True, example="Rentrée 2026")
    base = fields.String(
        metadata={"description": "The commit the changes were prepared against.", **SHA}
    )
    operations = fields.List(fields.Nested(OperationSchema), required=True)


class AppliedSchema(Schema):
    op = fields.String()
    collection = fields.String()
    slug = fields.String()
    version = fields.String(allow_none=True, metadata={"description": "null once deleted."})


class LandedSchema(Schema):
    commit = fields.String(metadata={"description": "The commit made.", **SHA})
    operations = fields.List(fields.Nested(AppliedSchema))


class BranchSchema(Schema):
    name = fields.String(metadata={"example": "cms/actualites/la-rentree"})
    commit = fields.String(metadata=SHA)
    published = fields.Boolean(metadata={"description": "The published branch."})
    ahead = fields.Integer(metadata={"description": "Commits the published branch lacks."})
    behind = fields.Integer(metadata={"description": "Published commits this branch lacks."})


class BranchCreateSchema(Schema):
    name = fields.String(
        required=True,
        metadata={
            "description": "Checked as `git check-ref-format` does; Decap's "
            "`cms/<collection>/<slug>` names are valid.",
            "example": "cms/actualites/la-rentree",
        },
    )
    from_ = fields.String(
        data_key="from",
        metadata={"description": "A branch, tag or commit. Default: the published branch."},
    )


class PublishSchema(Schema):
    message = commit_message("The merge commit's message.")


class PublishedSchema(Schema):
    commit = fields.String(metadata={"description": "The published branch's head now.", **SHA})
    fast_forward = fields.Boolean()
    changed = fields.Boolean(metadata={"description": "False: nothing was left to publish."})


class MediaSchema(Schema):
    path = fields.String(required=True, metadata={"example": "static/img/logo.png"})
    name = fields.String(required=True, metadata={"example": "logo.png"})
    folder = fields.String(
        required=True, metadata={"description": "Its media folder.", "example": "static/img"}
    )
    version = fields.String(
        required=True,
        metadata={"description": "The file's blob sha, also its `ETag`.", **SHA},
    )
    size = fields.Integer(required=True, metadata={"description": "Bytes.", "example": 5120})
    url = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Where the site serves it (`public_folder`), null when the config "
            "gives no absolute URL for its folder.",
            "example": "/img/logo.png",
        },
    )
    content_type = fields.String(required=True, metadata={"example": "image/png"})


class MediaUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "The file; its name is kept."})


class MediaFormSchema(Schema):
    folder = fields.String(
        metadata={
            "description": "A media folder of the config. Default: the site's `media_folder`.",
            "example": "static/img",
        }
    )
    message = commit_message("The commit message. Default: `Upload “<path>”`.")


class IndexStatusSchema(Schema):
    built = fields.Boolean(required=True)
    commit = fields.String(required=True, allow_none=True, metadata=SHA)
    current = fields.Boolean(
        required=True, metadata={"description": "Whether it is at the published head."}
    )
    entries = fields.Integer(required=True)


class ScheduleCreateSchema(Schema):
    at = fields.String(
        required=True,
        metadata={
            "description": "When to publish: ISO 8601 with an offset.",
            "example": "2026-12-24T08:00:00+01:00",
        },
    )


class ScheduleSchema(Schema):
    branch = fields.String(required=True, metadata={"example": "cms/actualites/la-rentree"})
    at = fields.String(required=True, metadata={"example": "2026-12-24T07:00:00Z"})
    by = fields.String(required=True, metadata={"description": "Who set it."})
    state = fields.String(required=True, metadata={"description": "`pending` or `failed`."})
    error = fields.String(
        required=True, allow_none=True, metadata={"description": "Why it failed."}
    )


class WebhookCreateSchema(Schema):
    url = fields.String(
        required=True,
        metadata={"description": "Where events are POSTed (http or https).",
                  "example": "https://builder.example.org/hooks/cms"},
    )  # fmt: skip
    branches = fields.List(
        fields.String(),
        metadata={"description": "`published` (default), `drafts`, or both."},
    )
    secret = fields.String(
        metadata={"description": "At least 16 characters; made for you when omitted."}
    )


class WebhookSchema(Schema):
    id = fields.String(required=True, metadata={"example": "wh_3f9a1c0e2b7d4a65"})
    url = fields.String(required=True)
    branches = fields.List(fields.String(), required=True)
    created_at = fields.String(required=True)
    created_by = fields.String(required=True)
    secret = fields.String(metadata={"description": "Only in the answer that created it."})


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    event = fields.Integer(required=True)
    attempt = fields.Integer(required=True)
    at = fields.String(required=True)
    status = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    duration_ms = fields.Float(required=True)
    commit = fields.String(required=True, metadata=SHA)
    branch = fields.String(required=True)
    event_state = fields.String(
        required=True, metadata={"description": "`delivered`, `pending` or `failed`."}
    )


class ReplaySchema(Schema):
    from_ = fields.String(
        data_key="from",
        required=True,
        metadata={"description": "A branch, tag or commit: events after it are sent again."},
    )


class ReplayedSchema(Schema):
    queued = fields.Integer(required=True)


class SyncReportSchema(Schema):
    actions = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "What each branch that changed did: `created`, `deleted`, "
            "`fast-forwarded`, `pushed`.",
            "example": {"main": "fast-forwarded"},
        },
    )
    problems = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Branches left as they were, and why (a diverged history)."},
    )


class RemoteStatusSchema(Schema):
    url = fields.String(required=True, metadata={"description": "Without its credentials."})
    state = fields.String(
        required=True,
        metadata={
            "description": "`ok`, `unreachable`, `diverged` (a branch needs a person), or "
            "`pending` before the first sync."
        },
    )
    checked_at = fields.String(
        required=True, allow_none=True, metadata={"description": "Last fetch attempt."}
    )
    synced_at = fields.String(
        required=True, allow_none=True, metadata={"description": "Last successful sync."}
    )
    lag_seconds = fields.Float(
        required=True, allow_none=True, metadata={"description": "Seconds since `synced_at`."}
    )
    error = fields.String(required=True, allow_none=True)
    problems = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class StatusSchema(Schema):
    version = fields.String(required=True, metadata={"example": "0.1.0"})
    published_branch = fields.String(required=True, metadata={"example": "main"})
    head = fields.String(required=True, metadata=SHA)
    index = fields.Nested(IndexStatusSchema, required=True)
    collections = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Entry files of each collection at the head."},
    )
    drafts = fields.Integer(required=True, metadata={"description": "Draft branches (`cms/...`)."})
    remote = fields.Nested(
        RemoteStatusSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The team's remote (`CMS_REMOTE`); null when none."},
    )
