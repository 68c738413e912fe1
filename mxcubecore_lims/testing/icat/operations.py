"""The ICAT operations of the emulated server: login and sessions, queries and writes over one store.

Every operation takes its request's body element (already unwrapped from
the SOAP envelope) and returns what the response carries; refusals raise
:class:`~.faults.IcatFault`.
"""

# Operation names are ICAT's WSDL operation names (getApiVersion, createMany, ...).

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mxcubecore_lims.testing.icat import jpql
from mxcubecore_lims.testing.icat.auth import Access
from mxcubecore_lims.testing.icat.beans import parse_bean
from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.schema import ENTITIES, ENTITY_NAMES, PARAMETER_INFO
from mxcubecore_lims.testing.icat.store import IcatStore, NewRow

__all__ = ["API_VERSION", "IcatService"]

API_VERSION = "6.2.0"


class IcatService:
    """The ICAT operations over one store.

    Args:
        store: The catalogue and its sessions.
        authenticators: ``plugin -> {username: password}``.
        root_users: ICAT user names with every right.
    """

    def __init__(
        self,
        store: IcatStore,
        authenticators: Mapping[str, Mapping[str, str]],
        root_users: Iterable[str],
    ) -> None:
        self.store = store
        self.authenticators = {k: dict(v) for k, v in authenticators.items()}
        self.root_users = frozenset(root_users)
        #: ``(operation, user or "")`` of every call, in order.
        self.calls: list[tuple[str, str]] = []

    # -- helpers -------------------------------------------------------------

    def _access(self, session_id: str | None) -> Access:
        login = self.store.session(session_id)
        return Access(self.store, login.user, self.root_users)

    def _require_write(self, access: Access, new: NewRow, old: dict[str, Any] | None = None) -> None:
        candidate = dict(old or {})
        candidate.update(new.values)
        allowed = access.can_write(new.entity, candidate, creating=old is None)
        if allowed and old is not None:
            allowed = access.can_write(new.entity, old)
        if not allowed:
            raise IcatFault(
                FaultType.INSUFFICIENT_PRIVILEGES,
                f"{access.user} may not write this {new.entity}",
            )
        self._require_children(access, new)

    def _require_children(self, access: Access, new: NewRow) -> None:
        # Cascaded children belong to the checked parent; only their kind matters.
        for kids in new.children.values():
            for kid in kids:
                if not access.is_root and kid.entity not in ("DatasetParameter", "Datafile", "SampleParameter"):
                    raise IcatFault(
                        FaultType.INSUFFICIENT_PRIVILEGES,
                        f"{access.user} may not create a {kid.entity}",
                    )
                self._require_children(access, kid)

    @staticmethod
    def _bean(node: Any) -> tuple[int | None, NewRow]:
        if node is None:
            raise IcatFault(FaultType.BAD_PARAMETER, "no bean given")
        return parse_bean(node)

    # -- operations: body element -> (result, result kind) ----------------------

    def getApiVersion(self, request: Any) -> Any:
        """The ICAT API version."""
        return API_VERSION

    getVersion = getApiVersion

    def getEntityNames(self, request: Any) -> Any:
        """The names of every entity."""
        return list(ENTITY_NAMES)

    def getEntityInfo(self, request: Any) -> Any:
        """The schema of the entity ``beanName`` (or of the abstract ``Parameter``)."""
        name = (request.findtext("beanName") or "").strip()
        entity = PARAMETER_INFO if name == "Parameter" else ENTITIES.get(name)
        if entity is None:
            raise IcatFault(FaultType.BAD_PARAMETER, f"{name!r} is not an ICAT entity")
        return entity

    def login(self, request: Any) -> Any:
        """Check the credentials with the ``plugin``'s users and open a session; its id."""
        plugin = (request.findtext("plugin") or "").strip()
        credentials = {
            (entry.findtext("key") or ""): entry.findtext("value") or ""
            for entry in request.iterfind("credentials/entry")
        }
        users = self.authenticators.get(plugin)
        if users is None:
            raise IcatFault(FaultType.SESSION, f"Authenticator mnemonic {plugin} not recognised")
        username = credentials.get("username", "")
        if username not in users or users[username] != credentials.get("password"):
            raise IcatFault(FaultType.SESSION, "The username and password do not match")
        login = self.store.open_session(f"{plugin}/{username}")
        self.calls[-1] = ("login", login.user)
        return login.session_id

    def logout(self, request: Any) -> Any:
        """End the session."""
        login = self.store.session(request.findtext("sessionId"))
        self.store.close_session(login.session_id)
        return None

    def getUserName(self, request: Any) -> Any:
        """The user of the session."""
        return self.store.session(request.findtext("sessionId")).user

    def getRemainingMinutes(self, request: Any) -> Any:
        """The minutes the session has left."""
        return self.store.session(request.findtext("sessionId")).remaining_minutes()

    def refresh(self, request: Any) -> Any:
        """Extend the session to a full lifetime."""
        self.store.refresh_session(request.findtext("sessionId") or "")
        return None

    def getProperties(self, request: Any) -> Any:
        """The server properties python-icat reads."""
        self.store.session(request.findtext("sessionId"))
        return [f"lifetimeMinutes {int(self.store.session_minutes)}", "maxEntities 10000"]

    def search(self, request: Any) -> Any:
        """Run a JPQL search with the session user's read rights."""
        access = self._access(request.findtext("sessionId"))
        return self._query(
            lambda: jpql.search(request.findtext("query") or "", self.store, user=access.user, readable=access.can_read)
        )

    def get(self, request: Any) -> Any:
        """One entity by ``primaryKey``, with what the query's INCLUDE asks for."""
        access = self._access(request.findtext("sessionId"))
        try:
            key = int((request.findtext("primaryKey") or "").strip())
        except ValueError as exc:
            raise IcatFault(FaultType.BAD_PARAMETER, "primaryKey is not a number") from exc
        return self._query(
            lambda: jpql.get(
                request.findtext("query") or "", key, self.store, user=access.user, readable=access.can_read
            )
        )

    @staticmethod
    def _query(run: Any) -> Any:
        try:
            return run()
        except jpql.NoSuchObjectError as exc:
            raise IcatFault(FaultType.NO_SUCH_OBJECT_FOUND, str(exc)) from exc
        except jpql.PrivilegesError as exc:
            raise IcatFault(FaultType.INSUFFICIENT_PRIVILEGES, str(exc)) from exc
        except jpql.QueryError as exc:
            raise IcatFault(FaultType.BAD_PARAMETER, str(exc)) from exc

    def create(self, request: Any) -> Any:
        """Create a bean (and its cascaded children); its id."""
        access = self._access(request.findtext("sessionId"))
        _, new = self._bean(request.find("bean"))
        return self._create_checked(access, new)

    def _create_checked(self, access: Access, new: NewRow) -> int:
        # icat.server persists (VALIDATION, OBJECT_ALREADY_EXISTS) before it
        # authorises; a refusal then rolls the create back.
        with self.store.transaction():
            row_id = self.store.create(new, access.user)
            self._require_write(access, new)
            return row_id

    def createMany(self, request: Any) -> Any:
        """Create several beans, all or none; their ids."""
        access = self._access(request.findtext("sessionId"))
        ids = []
        with self.store.transaction():
            for offset, node in enumerate(request.iterfind("beans")):
                try:
                    _, new = self._bean(node)
                    ids.append(self._create_checked(access, new))
                except IcatFault as fault:
                    fault.offset = offset
                    raise
        return ids

    def _existing(self, access: Access, node: Any) -> tuple[int, NewRow, dict[str, Any]]:
        row_id, new = self._bean(node)
        old = None if row_id is None else self.store.get(new.entity, row_id)
        if row_id is None or old is None or not access.can_read(new.entity, old):
            raise IcatFault(FaultType.NO_SUCH_OBJECT_FOUND, f"{new.entity}[id:{row_id}] not found")
        return int(row_id), new, old

    def update(self, request: Any) -> Any:
        """Change the attributes and ONE relations of an existing bean."""
        access = self._access(request.findtext("sessionId"))
        row_id, new, old = self._existing(access, request.find("bean"))
        self._require_write(access, NewRow(new.entity, new.values, {}), old)
        self.store.update(new.entity, row_id, new.values, access.user)
        return None

    def delete(self, request: Any) -> Any:
        """Delete a bean (and what cascades from it)."""
        return self._delete(request, [request.find("bean")])

    def deleteMany(self, request: Any) -> Any:
        """Delete several beans, all or none."""
        return self._delete(request, list(request.iterfind("beans")))

    def _delete(self, request: Any, nodes: list[Any]) -> Any:
        access = self._access(request.findtext("sessionId"))
        with self.store.transaction():
            for node in nodes:
                row_id, new, old = self._existing(access, node)
                self._require_write(access, NewRow(new.entity, {}, {}), old)
                self.store.delete(new.entity, row_id, access.user)
        return None

    def isAccessAllowed(self, request: Any) -> Any:
        """Whether the session user may READ (or otherwise write) the bean."""
        access = self._access(request.findtext("sessionId"))
        _, new = self._bean(request.find("bean"))
        if (request.findtext("accessType") or "").strip() == "READ":
            return access.can_read(new.entity, new.values)
        kind = (request.findtext("accessType") or "").strip()
        return access.can_write(new.entity, new.values, creating=kind == "CREATE")
