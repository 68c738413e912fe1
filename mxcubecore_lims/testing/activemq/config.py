"""The test broker's configuration files: ``activemq.xml`` and the log4j settings.

What :class:`BrokerConfig` writes:

* persistence in KahaDB under ``<data_dir>/kahadb`` (4 MiB journal files), so
  persistent messages survive a restart and a SIGKILL of the JVM;
* one STOMP transport connector on ``host:stomp_port``, and OpenWire on
  ``host:openwire_port`` only when that is given; nothing else listens: no
  JMX (``useJmx="false"``), no web console (no Jetty bean at all);
* small limits for tests: 32 MiB of memory for messages, 256 MiB of store,
  64 MiB of temporary store; ``schedulerSupport`` off, advisory messages off
  unless asked for (STOMP clients do not need them);
* when ``users`` is not empty, ``simpleAuthenticationPlugin`` with those
  users (group ``users``) and no anonymous access: a wrong password is
  refused at CONNECT. No authorisation plugin: every user may use every
  destination;
* dead letters: ActiveMQ's default, spelled out: one shared dead-letter
  queue, ``ActiveMQ.DLQ``, for every queue. A persistent message goes there
  after six failed redeliveries, or at once when a STOMP client NACKs it;
  non-persistent messages are dropped instead (``processNonPersistent``
  defaults to false).

No Spring property placeholder is configured, so ``${...}`` in a password is
taken literally. Debian's ActiveMQ logs through log4j 1.2, upstream's 5.17+
through log4j 2: both files are written, each sending everything to standard
output, which the broker object appends to its log file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = ["LOG4J2_PROPERTIES", "LOG4J_PROPERTIES", "BrokerConfig"]

#: log4j 1.2 (Debian's build): INFO to standard output, Spring and XBean quieter.
LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, out
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.Target=System.out
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
"""

#: log4j 2 (upstream's 5.17+ tarballs): the same.
LOG4J2_PROPERTIES = """\
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
logger.spring.name=org.springframework
logger.spring.level=WARN
logger.xbean.name=org.apache.xbean
logger.xbean.level=WARN
appender.out.type=Console
appender.out.name=out
appender.out.target=SYSTEM_OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
"""

_BEANS_OPEN = """\
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans
                           http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core
                           http://activemq.apache.org/schema/core/activemq-core.xsd">"""


@dataclass(frozen=True)
class BrokerConfig:
    """What one broker's ``activemq.xml`` says (see the module docstring).

    Attributes:
        data_dir: The broker's data directory (KahaDB lives in ``kahadb/``).
        stomp_port: The STOMP port.
        host: The loopback address every connector binds.
        openwire_port: An OpenWire port as well, or ``None`` for none.
        users: User name to password; empty for no authentication.
        broker_name: The broker's name (in its log and message ids).
        advisory_support: Whether the broker publishes advisory messages.
        memory_limit_mb: Memory for messages in flight, in MiB.
        store_limit_mb: Persistent store limit, in MiB.
        temp_limit_mb: Temporary (non-persistent overflow) store limit, in MiB.
    """

    data_dir: Path
    stomp_port: int
    host: str = "127.0.0.1"
    openwire_port: int | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    broker_name: str = "mxcubecore-lims-test"
    advisory_support: bool = False
    memory_limit_mb: int = 32
    store_limit_mb: int = 256
    temp_limit_mb: int = 64

    def xml(self) -> str:
        """Returns the whole ``activemq.xml``."""
        data = quoteattr(str(self.data_dir))
        kahadb = quoteattr(str(self.data_dir / "kahadb"))
        broker = (
            f'  <broker xmlns="http://activemq.apache.org/schema/core" brokerName={quoteattr(self.broker_name)}\n'
            f'          dataDirectory={data} persistent="true" useJmx="false" schedulerSupport="false"\n'
            f'          advisorySupport="{str(self.advisory_support).lower()}" useShutdownHook="true">'
        )
        lines = [
            _BEANS_OPEN,
            broker,
            "    <destinationPolicy><policyMap><policyEntries>",
            '      <policyEntry queue=">">',
            '        <deadLetterStrategy><sharedDeadLetterStrategy processNonPersistent="false"/></deadLetterStrategy>',
            "      </policyEntry>",
            "    </policyEntries></policyMap></destinationPolicy>",
            f'    <persistenceAdapter><kahaDB directory={kahadb} journalMaxFileLength="4mb"/></persistenceAdapter>',
            *self._plugins(),
            "    <systemUsage><systemUsage>",
            f'      <memoryUsage><memoryUsage limit="{self.memory_limit_mb} mb"/></memoryUsage>',
            f'      <storeUsage><storeUsage limit="{self.store_limit_mb} mb"/></storeUsage>',
            f'      <tempUsage><tempUsage limit="{self.temp_limit_mb} mb"/></tempUsage>',
            "    </systemUsage></systemUsage>",
            "    <transportConnectors>",
            *self._connectors(),
            "    </transportConnectors>",
            "  </broker>",
            "</beans>",
        ]
        return "\n".join(lines) + "\n"

    def stomp_uri(self) -> str:
        """Returns the STOMP connector's URI as the broker binds it."""
        return f"stomp://{self.host}:{self.stomp_port}"

    def _connectors(self) -> list[str]:
        connectors = [f'      <transportConnector name="stomp" uri={quoteattr(self.stomp_uri())}/>']
        if self.openwire_port is not None:
            uri = quoteattr(f"tcp://{self.host}:{self.openwire_port}")
            connectors.append(f'      <transportConnector name="openwire" uri={uri}/>')
        return connectors

    def _plugins(self) -> list[str]:
        if not self.users:
            return []
        entries = [
            f'        <authenticationUser username={quoteattr(name)} password={quoteattr(password)} groups="users"/>'
            for name, password in self.users.items()
        ]
        return [
            '    <plugins><simpleAuthenticationPlugin anonymousAccessAllowed="false"><users>',
            *entries,
            "    </users></simpleAuthenticationPlugin></plugins>",
        ]
