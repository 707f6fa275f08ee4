"""The token-guarded HTTP endpoint: `GET /metrics` with `Authorization: Bearer <token>`, `GET /healthz`.

Only the standard library and prometheus_client (already in the MLflow image, through MLflow's
prometheus-flask-exporter): the exporter adds no dependency to the image.
"""

from __future__ import annotations

import hmac
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector


def collect(multiproc_dir: str) -> bytes:
    """Every worker's metrics, merged the way prometheus_client documents for multiprocess servers."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)
    return generate_latest(registry)


def handler_class(token: str, multiproc_dir: str) -> type[BaseHTTPRequestHandler]:
    expected = f"Bearer {token}".encode()

    class MetricsHandler(BaseHTTPRequestHandler):
        server_version = "mlops-stack-metrics"
        sys_version = ""

        def do_GET(self) -> None:  # the name http.server dispatches to
            if self.path == "/healthz":
                self._send(HTTPStatus.OK, b"ok\n", "text/plain")
            elif self.path != "/metrics":
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            elif not hmac.compare_digest(self.headers.get("Authorization", "").encode(), expected):
                self._send(HTTPStatus.UNAUTHORIZED, b"a valid bearer token is required\n", "text/plain")
            else:
                self._send(HTTPStatus.OK, collect(multiproc_dir), CONTENT_TYPE_LATEST)

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="metrics"')
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """One line per scrape would flood the log; failures show as HTTP statuses to Prometheus."""

    return MetricsHandler


def serve(port: int, token: str, multiproc_dir: str) -> None:
    server = ThreadingHTTPServer(("0.0.0.0", port), handler_class(token, multiproc_dir))  # noqa: S104 (a pod)
    server.serve_forever()
