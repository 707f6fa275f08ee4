"""Client side of MLflow's artifact proxy (`mlflow-artifacts:` URIs): directories go up in parallel.

MLflow's own client uploads a directory one file after another, one HTTP request each, so a folder of
plots costs the sum of every request's round trip and server time. `MlflowArtifactsRepository` here
(registered by this package for the `mlflow-artifacts` scheme, entry point group
`mlflow.artifact_repository`) sends the same requests to the same paths from a bounded thread pool
(`MLOPS_ARTIFACT_THREADS`, default 8), and downloads with MLflow's own loop on as many threads.
"""

from mlops_stack.proxied_artifacts.repository import MlflowArtifactsRepository

__all__ = ["MlflowArtifactsRepository"]
