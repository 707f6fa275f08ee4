"""Fixtures every test directory gets."""

import pytest


@pytest.fixture(autouse=True)
def isolated_mlflow_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep one test's MLflow server out of the next test.

    `mlflow.set_tracking_uri()` is process-wide: it sets a module global and MLFLOW_TRACKING_URI. A test
    that points MLflow at its own (short-lived) server would otherwise send the next test's client calls
    to whatever listens on that port later. Both are restored after each test.
    """
    from mlflow.tracking._tracking_service import utils  # private: the only handle on the global

    monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)
    if (current := utils.MLFLOW_TRACKING_URI.get()) is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", current)
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
