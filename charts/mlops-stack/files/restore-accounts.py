"""Last step of the restore Job (README "Restore"): the restored basic-auth database holds the passwords of
the release that took the backup. People keep theirs (that is the point of restoring users), but the
accounts whose passwords live in this release's Secrets (the admin, the Prefect worker's MLflow account)
get those Secrets' passwords again, so that the Secrets stay the truth: `helm test`, the worker and the
admin's login work after a restore into a new namespace, whose Secrets were generated anew.

Writes the password hash MLflow's basic-auth checks (werkzeug's), in the auth database, while MLflow is
stopped. ACCOUNTS is "username=password-file" lines; a username missing from the restored database is left
to MLflow (the admin is created at its start) or to the mlflow-account hook Job."""

import os
import sys
from pathlib import Path

import psycopg2
from werkzeug.security import generate_password_hash


def accounts() -> list[tuple[str, str]]:
    pairs = []
    for line in os.environ["ACCOUNTS"].splitlines():
        if line.strip():
            username, _, password_file = line.strip().partition("=")
            pairs.append((username, Path(password_file).read_text().strip()))
    return pairs


def main() -> int:
    connection = psycopg2.connect(
        host=os.environ["MLFLOW_DB_HOST"],
        port=os.environ["MLFLOW_DB_PORT"],
        user=os.environ["MLFLOW_DB_USER"],
        password=Path(os.environ["MLFLOW_DB_PASSWORD_FILE"]).read_text().strip(),
        dbname=os.environ["MLFLOW_AUTH_DB_NAME"],
    )
    with connection, connection.cursor() as cursor:
        for username, password in accounts():
            cursor.execute(
                "UPDATE users SET password_hash = %s WHERE username = %s",
                (generate_password_hash(password), username),
            )
            state = "password set from its Secret" if cursor.rowcount else "not in the backup, left to MLflow"
            print(f"restore-accounts: {username}: {state}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
