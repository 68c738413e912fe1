"""LDAP authentication (ldap3): settings, input checks and escaping, the client.

No mxcubecore imports here: the hardware object
:class:`mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator`
wraps this package.
"""

from mxcubecore_lims.ldap.client import LdapAuthClient, LdapUser
from mxcubecore_lims.ldap.settings import LdapSettings

__all__ = ["LdapAuthClient", "LdapSettings", "LdapUser"]
