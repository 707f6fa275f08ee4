"""MLflow artifact store for sftp:// on paramiko (replaces MLflow's pysftp-based store).

Registered through the `mlflow.artifact_repository` entry point `sftp` (see registration.py for why
it also registers itself on import); the store itself is in repository.py.
"""

import warnings

with warnings.catch_warnings():
    # MLflow's registry may load our entry point while this package is half-imported and warn that it
    # could not; register_with_mlflow below makes that warning moot (see registration.py).
    warnings.filterwarnings(
        "ignore", message='Failure attempting to register artifact repository for scheme "sftp"'
    )
    from mlops_stack.sftp_store.registration import register_with_mlflow
    from mlops_stack.sftp_store.repository import SFTPArtifactRepository

register_with_mlflow(SFTPArtifactRepository)

__all__ = ["SFTPArtifactRepository"]
