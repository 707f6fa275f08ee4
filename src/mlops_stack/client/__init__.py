"""The client side of the stack, shared by the `mlops` commands (cli/) and the library (tracked_run).

config.py           the settings `mlops init` saves, and where the tracking URI comes from
credentials.py      MLflow's own credentials file
files.py            owner-only, atomically replaced files
tracking_server.py  plain HTTP checks against the MLflow server
roundtrip.py        an artifact round trip through the tracking server
host_key.py         the SFTP server's host key: fetched, checked against the pin, trusted, pinned
sftp_login.py       key login to the SFTP server
dvc_remote.py       the DVC ssh remote on that server
prefect_profile.py  PREFECT_API_URL in the active Prefect profile
errors.py           ClientError, what the user can fix (the CLI prints it)
"""
