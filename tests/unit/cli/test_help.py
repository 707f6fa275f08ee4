"""`--help` reads like documentation for every command, and usage errors go to stderr."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), ["mlops init", "mlops doctor", "mlops env"]),
        (("init",), ["--tracking-uri URL", "--password-stdin", "--host-key-fingerprint SHA256:...",
                     "--dvc-remote-name NAME", "--prefect-api-url URL", "--yes", "~/.mlflow/credentials",
                     "Nothing is written unless every check passes"]),
        (("doctor",), ["OK", "FAIL", "SKIP", "does NOT verify the server's host key", "mlops-doctor-<user>"]),
        (("env",), ['eval "$(mlops env)"', "--with-secrets", "MLFLOW_TRACKING_PASSWORD"]),
    ],
)  # fmt: skip
def test_help_documents_each_command(mlops, command, expected):
    result = mlops(*command, "--help")
    assert result.code == 0
    for text in expected:
        assert text in result.out, f"{text!r} missing from `mlops {' '.join(command)} --help`"


def test_unknown_flag_is_a_usage_error_on_stderr(mlops):
    result = mlops("init", "--no-such-flag")
    assert result.code == 2
    assert "unrecognized arguments: --no-such-flag" in result.err
    assert result.out == ""


def test_no_command_names_the_commands(mlops):
    result = mlops()
    assert result.code == 2
    assert "the following arguments are required: COMMAND" in result.err
