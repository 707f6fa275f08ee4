"""MLflow basic-auth at the cost of an open server, still checking every request.

MLflow's basic-auth (3.17.2) runs werkzeug's scrypt check two or three times per request, looks the user
up once per validator and reads the user's grants in another query. This package is the server app
`mlops-basic-auth` (entry point group `mlflow.app`): MLflow's own basic-auth app, with its user store
wrapped so that

- each request looks its user up once, with the user's grants in the same query (`request_users`,
  `user_grants`), so a changed password, a deleted user, a changed admin flag or a revoked grant is seen
  by the very next request, in every worker and every replica;
- a password is hash-checked at most once per server process until the user's stored hash changes
  (`verified_credentials`: an HMAC of the presented password under a per-process random key, filed under
  the stored hash, never the password).

Everything else (UI login, logout and change-password, the refusal of the legacy default admin password,
permissions) is MLflow's own code. `store_wrapper` checks the wrapped methods' signatures against the
MLflow version it was written for and refuses to start on any other shape.
"""

from mlops_stack.mlflow_auth.app import create_app

__all__ = ["create_app"]
