"""`python -m mlops_stack.metrics`: the MLflow pod's metrics container, started by `mlflow-entrypoint
metrics`, which checks these settings first and names what to fix.

Environment: MLOPS_METRICS_TOKEN_FILE (the scrape token's Secret file), MLOPS_METRICS_DIR (the
multiprocess directory shared with the server), MLOPS_METRICS_PORT.
"""

from __future__ import annotations

import os
from pathlib import Path

from .exporter import serve

if __name__ == "__main__":
    token = Path(os.environ["MLOPS_METRICS_TOKEN_FILE"]).read_text(encoding="utf-8").strip()
    serve(int(os.environ["MLOPS_METRICS_PORT"]), token, os.environ["MLOPS_METRICS_DIR"])
