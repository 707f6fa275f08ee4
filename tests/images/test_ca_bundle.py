"""global.caBundle in the MLflow image: with the variables and the mount the chart renders, Python's ssl
default context (urllib) and requests trust an HTTPS server whose certificate a company CA signed; without
them both refuse it. The server is the MLflow image's Python serving TLS under a name of the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.images.conftest import mount_folder
from tests.support.containers import Sandbox
from tests.support.tls import CertificateAuthority
from tests.unit.chart.helm import containers, find, render

pytestmark = pytest.mark.images

HOST = "proxy.corp.test"
TLS_DIR = "/etc/https-test"
SERVE = f"""
import http.server, ssl
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("{TLS_DIR}/server.crt", "{TLS_DIR}/server.key")
server = http.server.HTTPServer(("0.0.0.0", 8443), http.server.SimpleHTTPRequestHandler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""
FETCH = f"""
import urllib.request, requests
for name, get in [("urllib", lambda: urllib.request.urlopen("https://{HOST}:8443/").status),
                  ("requests", lambda: requests.get("https://{HOST}:8443/", timeout=10).status_code)]:
    try:
        print(name, get())
    except Exception as exc:
        print(name, "CERTIFICATE_VERIFY_FAILED" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else repr(exc))
"""


def chart_server(set_values: list[str]) -> dict:
    docs = render(set_values=["route.enabled=false", *set_values])
    return containers(find(docs, "Deployment", "mlflow"))["mlflow"]


@pytest.fixture(scope="module")
def https_server(sandbox: Sandbox, mount_root: Path) -> CertificateAuthority:
    ca = CertificateAuthority.create("company CA")
    certificate, key = ca.issue(HOST)
    tls = mount_folder(mount_root, "https-test", {"server.crt": certificate, "server.key": key})
    server = sandbox.run("mlflow", alias=HOST, name="https", entrypoint=["python3", "-c", SERVE],
                         volumes={str(tls): TLS_DIR}, read_only_mounts=[TLS_DIR],
                         tmpfs={"/tmp": ""})  # fmt: skip
    server.wait_for_port(8443)
    return ca


def fetch(sandbox: Sandbox, name: str, container: dict, mounts: dict[str, str]) -> str:
    env = {
        e["name"]: e["value"]
        for e in container["env"]
        if e["name"] in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    job = sandbox.run("mlflow", name=name, entrypoint=["python3", "-c", FETCH], env=env, volumes=mounts,
                      read_only_mounts=mounts.values(), tmpfs={"/tmp": ""})  # fmt: skip
    assert job.wait_for_exit(timeout=120) == 0, job.logs()
    return job.logs()


def test_the_chart_points_every_client_library_at_the_bundle() -> None:
    container = chart_server(["global.caBundle.configMap=trusted-ca"])
    bundle = "/var/run/mlops-stack/ca-bundle/ca-bundle.crt"
    assert [e for e in container["env"] if e["value"] == bundle] == [
        {"name": "SSL_CERT_FILE", "value": bundle},
        {"name": "REQUESTS_CA_BUNDLE", "value": bundle},
        {"name": "GIT_SSL_CAINFO", "value": bundle},
    ]
    assert {
        "name": "ca-bundle",
        "mountPath": "/var/run/mlops-stack/ca-bundle",
        "readOnly": True,
    } in container["volumeMounts"]


def test_python_and_requests_trust_the_bundle(
    sandbox: Sandbox, mount_root: Path, https_server: CertificateAuthority
) -> None:
    container = chart_server(["global.caBundle.configMap=trusted-ca"])
    bundle = mount_folder(mount_root, "trusted-ca", {"ca-bundle.crt": https_server.pem})
    assert fetch(sandbox, "with-bundle", container, {str(bundle): "/var/run/mlops-stack/ca-bundle"}) == (
        "urllib 200\nrequests 200\n"
    )


def test_without_the_bundle_the_company_ca_is_not_trusted(
    sandbox: Sandbox, https_server: CertificateAuthority
) -> None:
    assert fetch(sandbox, "without-bundle", chart_server([]), {}) == (
        "urllib CERTIFICATE_VERIFY_FAILED\nrequests CERTIFICATE_VERIFY_FAILED\n"
    )
