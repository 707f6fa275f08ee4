"""Make sure MLflow resolves sftp:// to this store, whatever the import order.

MLflow registers its built-in stores first and then the `mlflow.artifact_repository` entry points, so
the `sftp` entry point of this package replaces the built-in pysftp store (checked against MLflow
3.17's artifact_repository_registry.py). One order defeats that: when this package is imported
before MLflow's registry, importing MLflow's artifact base class loads the registry, which loads the
entry point while this package is still half-initialized; MLflow then warns and keeps its pysftp
store. Registering again once the class exists closes that gap.
"""

from __future__ import annotations

from mlflow.store.artifact import artifact_repository_registry

SCHEME = "sftp"


def register_with_mlflow(repository: type) -> None:
    # The module-level registry instance; its public getters are defined after it loads entry points,
    # so they may not exist yet when this runs from inside that loading.
    artifact_repository_registry._artifact_repository_registry.register(SCHEME, repository)
