"""Request bodies sent with `Content-Encoding: gzip`, inflated before the app reads them.

A door that was offline for an evening uploads thousands of scans at once: 10,000 scans are
3.3 MB of JSON but under 1 MB gzipped, inside the 1 MiB every request body is held to. The
inflated body is bounded too (a small gzip can inflate to gigabytes): each view reads at most
its own max_content_length of it, the batch upload more than the others.
"""

import io
import zlib

from shared.http import MAX_BODY_BYTES, problem

# What the biggest batch (schemas.MAX_BATCH_SCANS) inflates to, with room to spare.
MAX_INFLATED_BYTES = 8 * 1024 * 1024


class GzipRequestBodies:
    def __init__(self, app, max_inflated_bytes: int = MAX_INFLATED_BYTES):
        self.app = app
        self.max_inflated_bytes = max_inflated_bytes

    def __call__(self, environ, start_response):
        if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() != "gzip":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            # Left as it is: the app answers 413 for any body this large.
            return self.app(environ, start_response)
        try:
            body = _inflate(environ["wsgi.input"].read(length), self.max_inflated_bytes)
        except zlib.error:
            return problem(400, "The body is not valid gzip.")(environ, start_response)
        if body is None:
            return problem(413, f"The body inflates to more than {self.max_inflated_bytes} bytes.")(
                environ, start_response
            )
        environ.pop("HTTP_CONTENT_ENCODING")
        # Without a length, the inflated body is no longer held to the compressed body's
        # limit but to the view's max_content_length as werkzeug reads it.
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)


def _inflate(compressed: bytes, limit: int) -> bytes | None:
    """The inflated bytes, or None when they would pass `limit`."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    body = inflater.decompress(compressed, limit + 1)
    if len(body) > limit or inflater.unconsumed_tail:
        return None
    if not inflater.eof:
        raise zlib.error("truncated gzip stream")
    return body
