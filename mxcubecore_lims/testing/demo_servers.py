"""The emulated LIMS servers of the demo beamline, on the ports its configuration names.

``configuration/demo`` points its LIMS objects at ISPyB on 18080, ICAT on 18181
and LDAP on 13389 (loopback). ``mxcubecore-lims demo`` and ``mxcubecore-lims web``
both start these three; slapd is optional (a missing Debian package leaves the
LDAP login out, with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEMO_PORTS", "DemoServers"]

#: The demo configuration's ports.
DEMO_PORTS = {"ispyb": 18080, "icat": 18181, "ldap": 13389}


@dataclass
class DemoServers:
    """The three servers; :meth:`start` them, :meth:`close` them.

    Attributes:
        ispyb: The emulated ISPyB (an ``EmulatedIspyb``).
        icat: The emulated ICAT (an ``EmulatedIcat``).
        slapd: The real slapd, or None when it could not start.
        ldap_missing: Why slapd did not start, if it did not.
    """

    ispyb: Any = None
    icat: Any = None
    slapd: Any = None
    ldap_missing: str | None = None
    ports: dict[str, int] = field(default_factory=lambda: dict(DEMO_PORTS))

    def start(self) -> DemoServers:
        """Starts ISPyB and ICAT (in this process, as greenlets) and slapd (a child process)."""
        from mxcubecore_lims.testing.icat import EmulatedIcat
        from mxcubecore_lims.testing.ispyb import EmulatedIspyb
        from mxcubecore_lims.testing.slapd import SlapdError, SlapdServer

        self.ispyb = EmulatedIspyb(port=self.ports["ispyb"]).start()
        self.icat = EmulatedIcat(port=self.ports["icat"]).start()
        try:
            slapd = SlapdServer(port=self.ports["ldap"])
            slapd.start()
            self.slapd = slapd
        except (SlapdError, OSError) as error:
            self.ldap_missing = str(error)
        return self

    def describe(self) -> list[str]:
        """One line per server: where it listens."""
        return [
            f"ISPyB {self.ispyb.root}",
            f"ICAT  {self.icat.url}",
            f"LDAP  {self.slapd.uri}" if self.slapd else f"LDAP  not available ({self.ldap_missing})",
        ]

    def close(self) -> None:
        """Stops every server that runs."""
        for server in (self.ispyb, self.icat, self.slapd):
            if server is not None:
                server.close()
