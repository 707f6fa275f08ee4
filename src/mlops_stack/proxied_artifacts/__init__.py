"""Client side of MLflow's artifact proxy (`mlflow-artifacts:` URIs): folders in few requests.

MLflow's own client uploads a directory one file after another, one HTTP request each, so a folder of
plots costs the sum of every request's round trip and server time. `MlflowArtifactsRepository` here
(registered by this package for the `mlflow-artifacts` scheme, entry point group
`mlflow.artifact_repository`) sends a folder's small files as a few tar archives and downloads a directory
as one, when the server takes them (this package's server apps, mlops_stack.artifact_archives); against a
stock server it sends MLflow's own requests, to the same paths, from a bounded thread pool
(`MLOPS_ARTIFACT_THREADS`, default 8). `MLOPS_ARTIFACT_ARCHIVES=0` turns archives off.
"""

from mlops_stack.proxied_artifacts.repository import MlflowArtifactsRepository

__all__ = ["MlflowArtifactsRepository"]
