"""Hook Job (post-install, post-upgrade): make MLflow's basic-auth account ACCOUNT_USERNAME exist with the
password in ACCOUNT_PASSWORD_FILE, as the admin, through MLflow's users API. Idempotent: a missing account
is created, an existing one gets the Secret's password again (so a regenerated or rotated Secret wins).
Waits up to WAIT_SECONDS for MLflow to answer, since the hook may start while its pods roll."""

import os
import sys
import time
from pathlib import Path

import requests

URL = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
ADMIN = (os.environ["ADMIN_USERNAME"], Path(os.environ["ADMIN_PASSWORD_FILE"]).read_text().strip())
USERNAME = os.environ["ACCOUNT_USERNAME"]
PASSWORD = Path(os.environ["ACCOUNT_PASSWORD_FILE"]).read_text().strip()
TIMEOUT = 30


def wait_for_mlflow() -> None:
    deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "300"))
    while True:
        try:
            if requests.get(f"{URL}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException as err:
            last = err
        else:
            last = "not healthy yet"
        if time.monotonic() > deadline:
            sys.exit(f"mlflow-account: MLflow at {URL} does not answer ({last})")
        time.sleep(3)


def users_api(method: str, action: str, **kwargs: object) -> requests.Response:
    """One call of MLflow's users API as the admin."""
    return requests.request(
        method, f"{URL}/api/2.0/mlflow/users/{action}", auth=ADMIN, timeout=TIMEOUT, **kwargs
    )


def main() -> int:
    wait_for_mlflow()
    account = {"username": USERNAME, "password": PASSWORD}
    found = users_api("GET", "get", params={"username": USERNAME})
    if found.status_code == 404:
        users_api("POST", "create", json=account).raise_for_status()
        print(f"mlflow-account: created the MLflow account '{USERNAME}'")
        return 0
    found.raise_for_status()
    users_api("PATCH", "update-password", json=account).raise_for_status()
    print(f"mlflow-account: the MLflow account '{USERNAME}' exists; its password is the Secret's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
