"""A real Apache ActiveMQ 5 broker on a loopback STOMP port, for tests.

:class:`ActiveMqBroker` runs Debian's ActiveMQ (package ``activemq``) in a
JVM of its own, from a fresh run directory::

    with ActiveMqBroker() as broker:       # user mxcube / broker-pw
        connection = stomp.Connection(broker.host_and_ports)
        connection.connect(broker.username, broker.password, wait=True)

What it sets up, in ``run_dir`` (nothing of the system's instance in
``/etc/activemq`` or ``/var/lib/activemq`` is used or touched):

* ``conf/activemq.xml``: KahaDB in ``data/kahadb``, one STOMP connector (and
  OpenWire only on request), small limits, optional users, dead letters in
  ActiveMQ's default shared ``ActiveMQ.DLQ`` (see :mod:`.config`);
* ``conf/log4j.properties`` and ``conf/log4j2.properties``: everything to
  standard output;
* ``activemq.log``: the JVM's output over every start, with a line for each
  start (its command line), readiness, stop and kill.

The broker is ready when a STOMP CONNECT as its first user is answered with
CONNECTED. The modules, in the order :class:`ActiveMqBroker` builds on them:
:mod:`.errors`, :mod:`.installation` (finding Java and the jars),
:mod:`.config` (the files), :mod:`.settings` (arguments, addresses,
accounts, files), :mod:`.readiness` (one raw STOMP CONNECT), :mod:`.process`
(launching, waiting, stopping, killing) and :mod:`.broker` (the life
cycle); :mod:`.fixtures` holds the pytest plugin's fixture bodies.
"""

from __future__ import annotations

from mxcubecore_lims.testing.activemq.broker import ActiveMqBroker
from mxcubecore_lims.testing.activemq.config import BrokerConfig
from mxcubecore_lims.testing.activemq.errors import ActiveMqError, ActiveMqNotFoundError, ActiveMqStartError
from mxcubecore_lims.testing.activemq.installation import (
    ENV_ACTIVEMQ_HOME,
    ActiveMqInstallation,
    find_activemq,
    locate_activemq,
)
from mxcubecore_lims.testing.activemq.readiness import StompAnswer, stomp_connect
from mxcubecore_lims.testing.activemq.settings import DEFAULT_READY_TIMEOUT, DEFAULT_USERS

__all__ = [
    "DEFAULT_READY_TIMEOUT",
    "DEFAULT_USERS",
    "ENV_ACTIVEMQ_HOME",
    "ActiveMqBroker",
    "ActiveMqError",
    "ActiveMqInstallation",
    "ActiveMqNotFoundError",
    "ActiveMqStartError",
    "BrokerConfig",
    "StompAnswer",
    "find_activemq",
    "locate_activemq",
    "stomp_connect",
]
