"""Media over HTTP: list, read, upload (multipart) and delete the files of the config's media
folders; and the files themselves at their ``public_folder`` URLs (``/img/a.png``)."""

from __future__ import annotations

import werkzeug.exceptions
from flask import Flask, Response, current_app, g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.context import snapshot
from cms.api.entries import (
    COMMIT_HEADER,
    PAGINATION_HEADER,
    SECURITY,
    author,
    branch_arg,
    if_match,
    pagination_headers,
)
from cms.api.errors import handle_cms_error, handle_http_exception
from cms.api.responses import body_etag, cache_control, dumps, json_response
from cms.api.schemas import MediaFormSchema, MediaSchema, MediaUploadSchema
from cms.content.media import MediaLibrary, content_type
from cms.content.query import Page, paging
from cms.errors import BadRequest, CMSError, MethodNotAllowed, Unprocessable

blp = Blueprint(
    "media",
    __name__,
    url_prefix="/api/v1/media",
    description="Images and documents in the config's `media_folder` (and collections' own), "
    "served at their `public_folder` URLs.",
)

FOLDER = params.query(
    "folder",
    "Only this media folder (a repository path, as `media_folder` in the config names it).",
    {"type": "string"},
    example="static/img",
)
# The multipart form of an upload: the file and two optional fields, nothing else.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The file; its name is kept.",
                    },
                    "folder": {
                        "type": "string",
                        "description": "A media folder of the config. Default: the site's "
                        "`media_folder`.",
                    },
                    "message": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 10_000,
                        "pattern": "\\S",
                        "description": "The commit message. Default: `Upload “<path>”`.",
                    },
                },
                "required": ["file"],
                "additionalProperties": False,
            }
        }
    },
}
# An uploaded file is served as a file, never as a page of this site: an SVG's scripts do not
# run, and the browser does not guess another type.
FILE_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def library() -> MediaLibrary:
    return current_app.extensions["cms.media"]


@blp.route("")
class MediaList(MethodView):
    @blp.doc(parameters=[params.REF, FOLDER, params.PAGE, params.PAGE_SIZE])
    @blp.response(
        200,
        MediaSchema(many=True),
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(400, description="A bad page or page_size.")
    @blp.alt_response(404, description="Unknown ref, or a folder that is no media folder.")
    def get(self) -> Response:
        """List media files

        The files directly in the config's media folders (or in `folder`), by path, each with
        its `version` (blob sha), size and public URL.
        """
        snap = snapshot()
        errors: dict[str, str] = {}
        page, size = paging(request.args.get("page"), request.args.get("page_size"), errors)
        if errors:
            raise BadRequest("the query parameters are not valid", {"query": errors})
        files = library().list(snap, request.args.get("folder"))
        start = (page - 1) * size
        shown = Page([], len(files), page, size)
        body = dumps([f.as_dict() for f in files[start : start + size]])
        return json_response(body, body_etag(body), snap.commit, pagination_headers(shown))

    @blp.arguments(MediaFormSchema, location="form")
    @blp.arguments(MediaUploadSchema, location="files")
    @blp.doc(parameters=[params.BRANCH], security=SECURITY, requestBody=UPLOAD_BODY)
    @blp.response(201, MediaSchema, headers={"Location": {"description": "The file's URL."}})
    @blp.alt_response(400, description="No `file` part in the form.")
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than editor.")
    @blp.alt_response(404, description="Unknown branch.")
    @blp.alt_response(409, description="A file of that name exists in the folder.")
    @blp.alt_response(413, description="Larger than `CMS_MEDIA_MAX_BYTES`.")
    @blp.alt_response(
        422,
        description="A name or folder that is not allowed, a type not in `CMS_MEDIA_TYPES`, "
        "or content that is not what its extension says.",
    )
    @blp.alt_response(503, description="Other writes held the write lock too long.")
    def post(self, form: dict, files: dict) -> Response:
        """Upload a media file

        A `multipart/form-data` form with the file in `file`, and optionally `folder` (a media
        folder of the config; default: the site's `media_folder`) and `message`. One commit
        adds the file; a name that exists is a 409 (delete the old file first).
        """
        who = author()
        upload = files["file"]
        folder = form.get("folder")
        snap = snapshot()
        folders = library().folders(snap)
        if not folders:
            raise Unprocessable("the config names no media_folder", {"folder": []})
        chosen = folder.strip("/") if folder else folders[0].folder
        name = (upload.filename or "").rsplit("/", 1)[-1]
        data = upload.read(library().rules.max_bytes + 1)
        media, commit = library().upload(
            branch_arg() or snap.service.store.branch,
            f"{chosen}/{name}",
            data,
            who,
            form.get("message") or None,
        )
        g.content_commit = commit
        response = Response(dumps(media.as_dict()), status=201, mimetype="application/json")
        response.set_etag(media.version)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Location"] = url_for("media.MediaFile", file=media.path)
        return response


@blp.route("/<resource:file>")
class MediaFile(MethodView):
    @blp.doc(parameters=[params.REF])
    @blp.response(
        200,
        content_type="application/octet-stream",
        description="The file's bytes, with its type; `ETag` is its version.",
        headers={"X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(404, description="No such media file at that ref.")
    def get(self, file: str) -> Response:
        """Get a media file

        The file as stored at the ref; at a full commit sha the answer is immutable.
        """
        snap = snapshot()
        return file_response(snap, file)

    @blp.doc(parameters=[params.BRANCH, params.IF_MATCH, params.MESSAGE], security=SECURITY)
    @blp.response(204)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than editor.")
    @blp.alt_response(404, description="No such media file or branch.")
    @blp.alt_response(412, description="If-Match is not the file's current version.")
    @blp.alt_response(428, description="No If-Match.")
    @blp.alt_response(503, description="Other writes held the write lock too long.")
    def delete(self, file: str) -> Response:
        """Delete a media file

        Removes the file in one commit. Needs `If-Match` with its version (its ETag).
        """
        who = author()
        store = current_app.extensions["cms"].store
        commit = library().delete(
            branch_arg() or store.branch,
            file,
            if_match(),
            who,
            request.args.get("message"),
        )
        g.content_commit = commit
        response = Response(status=204)
        response.headers["Cache-Control"] = "no-store"
        return response


def file_response(snap, path: str) -> Response:
    _, blob = library().find(snap, path)  # a 304 reads no byte of the file
    g.content_commit = snap.commit
    if request.if_none_match.contains_weak(blob.sha):
        response = Response(status=304)
    else:
        data = snap.service.store.read_blob(blob.sha)
        response = Response(data, mimetype=content_type(path))
    response.set_etag(blob.sha)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = cache_control()
    response.vary.add("Authorization")
    return response


def init_public_media(app: Flask) -> None:
    """Serve media at their ``public_folder`` URLs (``/img/a.png``): a GET that no route takes
    is looked up in the config's media folders at the published head (or ``?ref=``) before it
    is a 404. No route is added, so every other URL answers as it did (405s included)."""

    @app.errorhandler(werkzeug.exceptions.NotFound)
    def public_media(error: werkzeug.exceptions.NotFound) -> Response:
        if request.url_rule is None and request.method != "OPTIONS":
            try:
                snap = snapshot()
                path = library().locate(snap, request.path)
                if path is not None and request.method in ("GET", "HEAD"):
                    return file_response(snap, path)
                if path is not None and snap.service.store.blob_at(snap.commit, path):
                    response = handle_cms_error(
                        MethodNotAllowed(
                            "media files are only read here; change them through /api/v1/media",
                            {"path": request.path},
                        )
                    )
                    response.headers["Allow"] = "GET, HEAD"
                    return response
            except CMSError as failure:
                return handle_cms_error(failure)
        return handle_http_exception(error)
