"""Errors the SFTP artifact store raises; all are MlflowExceptions so the server reports them cleanly."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE


class SFTPStoreError(MlflowException):
    """Something the operator must fix: a bad URI, a missing key, an unknown host key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class SFTPConfigError(SFTPStoreError):
    """The artifact URI or the MLOPS_SFTP_* environment cannot be used as given."""


class HostKeyError(SFTPStoreError):
    """The server presented a host key that known_hosts does not vouch for."""


class SFTPConnectError(SFTPStoreError):
    """The server could not be reached or refused the login."""


class SFTPUnavailable(MlflowException):
    """The SFTP server cannot be reached or dropped the session: the server answers 503, which MLflow's
    clients retry with backoff (a 400 would fail the data scientist's call at once, a 500 says "bug")."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=TEMPORARILY_UNAVAILABLE)
