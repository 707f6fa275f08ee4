"""What this project knows about SSH, in one place, on paramiko and the standard library only.

The MLflow server image imports it (the sftp:// artifact store, the chart's known_hosts init container),
as do the `mlops` client and localrun:

  known_hosts.py   the `[host]:port` naming rule, reading, pinning and writing known_hosts, fingerprints
  private_keys.py  private keys: loading (passphrase handling included), public lines, fingerprints
  connect.py       the options every login uses (timeouts, no agent, no ~/.ssh key search) and the
                   bare handshake that fetches a server's host key
  __main__.py      `python3 -m mlops_stack.ssh known-hosts ...`, run by the chart's init containers
"""
