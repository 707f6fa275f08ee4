"""Keep libraries' own log lines off the user's terminal: every failure they log also reaches the CLI as an
exception, which it turns into one clear message with a fix.

paramiko's transport thread logs a failed handshake ("Exception (client): Incompatible ssh peer" and a
traceback) at ERROR level; with no logging configured, Python's last-resort handler prints that to
stderr before the CLI's own message. urllib3 logs connection retries the same way.
"""

from __future__ import annotations

import logging

NOISY_LIBRARIES = ("paramiko", "urllib3")


def silence_library_logs() -> None:
    """Give each noisy library's logger a handler that drops records, so the last resort never fires."""
    for name in NOISY_LIBRARIES:
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
