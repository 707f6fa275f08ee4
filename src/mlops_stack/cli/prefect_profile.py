"""PREFECT_API_URL in the active Prefect profile, the way `prefect config set` stores it."""

from __future__ import annotations

from .errors import CliError


def set_prefect_api_url(url: str) -> str:
    """Persist the URL in the current profile; returns the profile's name."""
    try:
        from prefect.settings import PREFECT_API_URL, update_current_profile
    except ImportError as err:
        raise CliError(
            "Prefect is not installed in this Python environment",
            "install it with `pip install 'mlops-stack[prefect]'`, or drop --prefect-api-url",
        ) from err
    profile = update_current_profile({PREFECT_API_URL: url})
    return profile.name
