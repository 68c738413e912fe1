"""A real OpenLDAP ``slapd`` on a loopback port, for tests.

:class:`SlapdServer` runs slapd from a fresh temporary directory::

    with SlapdServer() as server:          # seeded with DEFAULT_SEED
        alice = server.seed.user("alice")
        connection = ldap3.Connection(server.uri, server.user_dn("alice"), alice.password)

What it sets up, in ``run_dir``:

* ``slapd.conf``: an ``mdb`` database for ``suffix`` with the core, cosine,
  inetorgperson and nis schemas, a root DN and password, and an access policy
  like a real site's (see :meth:`SlapdServer.access_rules`);
* ``db/``: the database, filled with ``slapd -T add`` (slapadd) before the
  first start, from a :class:`~mxcubecore_lims.testing.ldap_seed.Seed` and/or
  LDIF;
* ``tls/``: a throw-away CA and a server certificate, when ``tls=True``;
  slapd then also listens on ``ldaps://`` and offers StartTLS on ``ldap://``;
* ``slapd.log``: slapd's own output, run in the foreground with
  ``-d stats,none`` so every connection and operation is logged, and so are
  configuration errors (:meth:`SlapdServer.log_text`).

The modules, in the order :class:`SlapdServer` builds on them:
:mod:`.errors`, :mod:`.installation` (finding slapd, its schemas and
modules), :mod:`.ports` (free ports, and the race in picking them),
:mod:`.settings` (arguments, addresses, accounts, files), :mod:`.config`
(``slapd.conf``), :mod:`.readiness` (does it answer?), :mod:`.process`
(seeding, launching, waiting, stopping) and :mod:`.server` (the life cycle).
"""

from __future__ import annotations

from mxcubecore_lims.testing.slapd.errors import SlapdError, SlapdNotFoundError, SlapdStartError
from mxcubecore_lims.testing.slapd.installation import ENV_SLAPD, find_slapd
from mxcubecore_lims.testing.slapd.ports import free_port
from mxcubecore_lims.testing.slapd.server import SlapdServer
from mxcubecore_lims.testing.slapd.settings import DEFAULT_DEBUG_LEVEL

__all__ = [
    "DEFAULT_DEBUG_LEVEL",
    "ENV_SLAPD",
    "SlapdError",
    "SlapdNotFoundError",
    "SlapdServer",
    "SlapdStartError",
    "find_slapd",
    "free_port",
]
