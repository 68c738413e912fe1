"""Picking a free loopback port for slapd.

Ports are picked by binding port 0 on 127.0.0.1 and closing the socket again,
then handing the number to slapd. Another process could take the port in the
short gap between: that race cannot be closed for an external binary (it
cannot inherit our socket). The first start therefore retries on new ports
when slapd reports the address in use; a restart reuses the same port on
purpose and fails if it was taken meanwhile.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """Returns a TCP port that was free a moment ago (see the module docstring)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        # getsockname() is typed Any; for AF_INET it is (host, port).
        port: int = probe.getsockname()[1]
        return port
