"""Tests of the `mlops` CLI and `tracked_run` against real servers."""
