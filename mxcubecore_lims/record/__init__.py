"""The session record: what happened at the beamline during one session, for people to read.

* :mod:`.model`: the record (the LIMS's reading of the session, what the
  outbox still holds, mounts, snapshots, what could not be read).
* :mod:`.journal`: the outbox's account of a session.
* :mod:`.builder`: builds the record from a LIMS object.
* :mod:`.report`: the self-contained HTML report.
* :mod:`.writer`: writes the report and the MXLIMS results document, and
  builds them when a session ends, without blocking the beamline.
"""
