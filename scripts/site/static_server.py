"""Serve a built site on 127.0.0.1 under a URL path, the way GitHub Pages serves a project page:
files as they are, and the site's 404.html with status 404 for anything missing.

The port is taken when the server is made, before it serves, so a site can be built for its
final base URL first. Used by `invoke audit` and by the browser tests.
"""
from __future__ import annotations

import http.server
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from scripts.errors import UsageError


class _Handler(http.server.SimpleHTTPRequestHandler):
    site_dir: Path
    sub_path: str

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(self.site_dir), **kwargs)

    def translate_path(self, path):
        url_path = urlsplit(path).path
        if not url_path.startswith(self.sub_path):
            return str(self.site_dir / "\0outside-the-site")  # never a file: answered with 404
        return super().translate_path("/" + url_path[len(self.sub_path):])

    def send_error(self, code, message=None, explain=None):
        not_found = self.site_dir / "404.html"
        if code != 404 or not not_found.is_file():
            super().send_error(code, message, explain)
            return
        body = not_found.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # a request log would drown the caller's output
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that hangs up mid-answer (a browser cancelling a request) is not an error to print."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class StaticServer:
    """`with StaticServer(site_dir, "/blog/") as server:` serves site_dir at server.base_url."""

    def __init__(self, site_dir: Path, sub_path: str = "/"):
        if not (sub_path.startswith("/") and sub_path.endswith("/")):
            raise UsageError(f"sub-path must start and end with '/', got {sub_path!r}")
        handler = type("SiteHandler", (_Handler,), {"site_dir": Path(site_dir), "sub_path": sub_path})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}{sub_path}"

    def url(self, path: str = "") -> str:
        """The absolute URL of a site path such as `zh/blog/qwen2.5-max/`."""
        return self.base_url + path.lstrip("/")

    def start(self) -> "StaticServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="static-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> "StaticServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
