"""ETags for the app's polled reads: a fingerprint of what a page shows, answered 304 while it is unchanged."""

import hashlib

from django.utils.http import quote_etag
from rest_framework.request import Request
from rest_framework.response import Response


def etag_response(request: Request, response: Response, fingerprint: str) -> Response:
    """`response` tagged with the fingerprint's ETag, or an empty 304 when `If-None-Match` names it already."""
    etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return Response(status=304, headers={"ETag": etag})
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response
