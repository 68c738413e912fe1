"""Which configured classes are mxcubecore's legacy LIMS and LDAP objects, and what they become.

Shared by ``check`` (which warns about them) and ``migrate`` (which moves
them), so that neither imports the other.
"""

from __future__ import annotations

__all__ = ["LDAP", "MOCKUP", "OURS", "PROPOSAL_TYPE", "STOCK_LIMS", "USER_TYPE", "classify"]

OURS = "mxcubecore_lims.HardwareObjects."
PROPOSAL_TYPE = OURS + "ProposalTypeISPyBLims"
USER_TYPE = OURS + "UserTypeISPyBLims"
LDAP = OURS + "LdapAuthenticator"

#: mxcubecore's own ISPyB LIMS classes (by their last name).
STOCK_LIMS = frozenset({"ISPyBClient", "ProposalTypeISPyBLims", "UserTypeISPyBLims"})
#: mxcubecore's mock ISPyB client, migrated like the real one.
MOCKUP = "ISPyBClientMockup"


def classify(class_path: str) -> str | None:
    """The class a legacy class becomes, or None when it is not ours to migrate.

    Args:
        class_path: The class as configured (``mxcubecore.HardwareObjects.ISPyBClient``).

    Returns:
        Our class's full path, or None.
    """
    if not class_path or class_path.startswith(OURS):
        return None
    last = class_path.rsplit(".", 1)[-1]
    if last == "LdapAuthenticator":
        return LDAP
    if last in STOCK_LIMS or last == MOCKUP or last.endswith(("ISPyBClient", "ISPyBLims")):
        return USER_TYPE if last == "UserTypeISPyBLims" else PROPOSAL_TYPE
    return None
