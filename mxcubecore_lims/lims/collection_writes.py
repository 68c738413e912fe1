"""Store templates of data collections, their groups, beamline set-ups and images.

Each public ``store_*`` method validates the collect routines' dict into its
typed model (a bad dict raises :class:`~mxcubecore_lims.errors.LimsDataError`
naming the key) and journals it; the backend implements the ``_write_*``
hook declared beside it, called at delivery.
"""

from __future__ import annotations

import abc
from typing import Any, cast

from mxcubecore_lims.lims import Id, LegacyDict
from mxcubecore_lims.lims.outbox_wiring import OutboxWiring
from mxcubecore_lims.model import BeamlineSetup, DataCollection, DataCollectionGroup, Image

__all__ = ["CollectionWrites"]


class CollectionWrites(OutboxWiring):
    """Mixin of the LIMS objects: the journalled writes of a data collection."""

    def store_data_collection(self, datacollection_dict: LegacyDict, beamline_config_dict: Any = None) -> tuple[Id, Id]:
        """Stores a new data collection and the beamline set-up it ran with.

        Args:
            datacollection_dict: The collection dict of the collect routines
                (``current_dc_parameters``).
            beamline_config_dict: The beamline set-up, as a dict or as
                AbstractCollect's ``BeamlineConfig`` namedtuple; may be None.

        Returns:
            ``(data_collection_id, detector_id)``; either may be None.

        Raises:
            LimsDataError: A dict does not fit its model.
        """
        collection = DataCollection.from_legacy(datacollection_dict)
        setup = None if beamline_config_dict is None else BeamlineSetup.from_legacy(beamline_config_dict)
        return cast(
            tuple[Id, Id],
            self._send(
                "data_collection",
                {
                    "collection": self._with_session(collection).to_legacy(),
                    "setup": None if setup is None else setup.to_legacy(),
                },
            ),
        )

    @abc.abstractmethod
    def _write_data_collection(self, collection: DataCollection, setup: BeamlineSetup | None) -> tuple[Id, Id]:
        """Backend part of :meth:`store_data_collection`."""

    def update_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Updates the collection whose ``collection_id`` the dict gives.

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollection`.
        """
        collection = self._with_session(DataCollection.from_legacy(datacollection_dict))
        self._send("data_collection_update", {"collection": collection.to_legacy()})

    @abc.abstractmethod
    def _write_data_collection_update(self, collection: DataCollection) -> None:
        """Backend part of :meth:`update_data_collection`."""

    def finalize_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Records the end of a collection (final values, status, metadata).

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollection`.
        """
        collection = self._with_session(DataCollection.from_legacy(datacollection_dict))
        self._send("data_collection_end", {"collection": collection.to_legacy()})

    @abc.abstractmethod
    def _write_data_collection_end(self, collection: DataCollection) -> None:
        """Backend part of :meth:`finalize_data_collection`."""

    def store_data_collection_group(self, group_dict: LegacyDict) -> Id:
        """Stores a data-collection group; returns its id.

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollectionGroup`.
        """
        group = self._with_session(DataCollectionGroup.from_legacy(group_dict))
        return cast(Id, self._send("data_collection_group", {"group": group.to_legacy()}))

    def _store_data_collection_group(self, group_dict: LegacyDict) -> Id:
        """The name mxcubecore's task-group queue entry calls; see :meth:`store_data_collection_group`."""
        return self.store_data_collection_group(group_dict)

    @abc.abstractmethod
    def _write_data_collection_group(self, group: DataCollectionGroup) -> Id:
        """Backend part of :meth:`store_data_collection_group`."""

    def store_beamline_setup(self, session_id: str, bl_config_dict: Any) -> Id:
        """Stores a beamline set-up for a session; returns its id.

        Raises:
            LimsDataError: The set-up does not fit :class:`BeamlineSetup`.
        """
        setup = BeamlineSetup.from_legacy(bl_config_dict)
        return cast(Id, self._send("beamline_setup", {"session_id": str(session_id), "setup": setup.to_legacy()}))

    @abc.abstractmethod
    def _write_beamline_setup(self, session_id: str, setup: BeamlineSetup) -> Id:
        """Backend part of :meth:`store_beamline_setup`."""

    def store_image(self, image_dict: LegacyDict) -> Id:
        """Stores one image of a collection; returns the image id.

        A dict that does not fit :class:`Image`, or a LIMS error, is logged and
        None returned: AbstractCollect calls this outside any ``try``.
        """
        image = self._parse_or_log(Image, image_dict, "store_image")
        if image is None:
            return None
        return cast(Id, self._write_or_log(self._send, "image", {"image": image.to_legacy()}, operation="store_image"))

    @abc.abstractmethod
    def _write_image(self, image: Image) -> Id:
        """Backend part of :meth:`store_image`."""
