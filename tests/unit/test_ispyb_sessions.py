"""ISPyB session objects as mxcubecore Session models (pure conversion)."""

from __future__ import annotations

from datetime import datetime

import pytest

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.ispyb.sessions import session_from_ispyb

NOW = datetime(2026, 11, 23, 10, 0, 0)
ISPYB_SESSION = {
    "beamlineName": "ID-DEMO",
    "comments": "Session created by the BCM",
    "endDate": datetime(2026, 11, 25, 7, 59, 59),
    "nbShifts": 3,
    "scheduled": 0,
    "sessionId": 41,
    "startDate": datetime(2026, 11, 23, 0, 0, 0),
    "proposalId": 7,
    "proposalName": "mx0415",
}


def test_a_current_session_on_this_beamline() -> None:
    session = session_from_ispyb(ISPYB_SESSION, "id-demo", {"code": "MX", "number": "0415", "title": "Lysozyme"}, NOW)
    assert session.session_id == "41" and session.proposal_id == "7"
    assert (session.code, session.number, session.title) == ("MX", "0415", "Lysozyme")
    assert (session.start_date, session.start_time) == ("20261123", "00:00:00")
    assert (session.end_date, session.end_time) == ("20261125", "07:59:59")
    assert session.start_datetime == ISPYB_SESSION["startDate"]
    assert session.is_scheduled_beamline and session.is_scheduled_time
    assert (session.nb_shifts, session.scheduled, session.proposal_name) == ("3", "0", "mx0415")


def test_code_and_number_come_from_the_proposal_name_without_a_proposal() -> None:
    session = session_from_ispyb(ISPYB_SESSION, "ID-DEMO", None, NOW)
    assert (session.code, session.number) == ("mx", "0415")


@pytest.mark.parametrize(
    "change, here, now",
    [({"beamlineName": "ID-OTHER"}, False, True), ({"endDate": datetime(2026, 11, 22, 23, 0)}, True, False)],
)
def test_other_beamline_or_past_session(change: dict, here: bool, now: bool) -> None:
    session = session_from_ispyb({**ISPYB_SESSION, **change}, "ID-DEMO", None, NOW)
    assert (session.is_scheduled_beamline, session.is_scheduled_time) == (here, now)


def test_a_session_starting_later_today_is_current_as_ispyb_counts_it() -> None:
    early = datetime(2026, 11, 23, 6, 0, 0)
    session = session_from_ispyb({**ISPYB_SESSION, "startDate": datetime(2026, 11, 23, 8, 0)}, "ID-DEMO", None, early)
    assert session.is_scheduled_time


def test_dates_given_as_text_are_read_and_bad_ones_named() -> None:
    session = session_from_ispyb({**ISPYB_SESSION, "startDate": "2026-11-23T08:00:00"}, "ID-DEMO", None, NOW)
    assert session.start_time == "08:00:00"
    with pytest.raises(LimsDataError) as caught:
        session_from_ispyb({**ISPYB_SESSION, "endDate": "soon"}, "ID-DEMO", None, NOW)
    assert (caught.value.field, caught.value.value) == ("endDate", "soon")
    with pytest.raises(LimsDataError):
        session_from_ispyb({**ISPYB_SESSION, "sessionId": None}, "ID-DEMO", None, NOW)
