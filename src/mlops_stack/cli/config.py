"""Moved to mlops_stack.client.config; this name stays only for examples/team_server.py, which still
imports it. Remove it once that file imports mlops_stack.client.config (nothing in the package uses it).
"""

from mlops_stack.client.config import load_config

__all__ = ["load_config"]
