"""Proposal names and the site's code translation table (pure logic)."""

from __future__ import annotations

import pytest

from mxcubecore_lims.errors import LimsAuthenticationError, LimsConfigError
from mxcubecore_lims.ispyb.proposal_codes import ProposalCodes, split_proposal_name

DEMO_TABLE = {
    "proposal": [
        {"code": "ifx", "ldap": "fx", "ispyb": "FX", "gui": "IFX"},
        {"code": "mx", "ldap": "mx", "ispyb": "MX", "gui": "MX"},
    ]
}


@pytest.mark.parametrize(
    "name, code, number",
    [
        ("mx415", "mx", "415"),
        ("MX0415", "MX", "0415"),
        ("ih-ls2345", "ih-ls", "2345"),
        ("mx-415", "mx", "415"),
        (" opid30 ", "opid", "30"),
    ],
)
def test_proposal_names_split_into_code_and_number(name: str, code: str, number: str) -> None:
    proposal = split_proposal_name(name)
    assert (proposal.code, proposal.number) == (code, number)


@pytest.mark.parametrize("name", ["", "415", "mx", "mx41a", "m x415", "mx4\n15", None, "*415"])
def test_other_names_are_refused_as_a_login(name: object) -> None:
    with pytest.raises(LimsAuthenticationError):
        split_proposal_name(name)  # type: ignore[arg-type]


def test_each_system_is_translated_from_the_typed_code() -> None:
    codes = ProposalCodes.from_session_config(DEMO_TABLE)
    assert codes.translate("ifx", "ldap") == "fx"
    assert codes.translate("IFX", "ispyb") == "FX"  # not the ISPyB code of the LDAP code
    assert codes.translate("ifx", "gui") == "IFX"
    assert codes.translate("opid", "ispyb") == "opid"  # no entry: unchanged
    assert codes.typed_code("FX", "ispyb") == "ifx"


def test_the_table_may_be_a_yaml_list_and_columns_default_to_the_code() -> None:
    codes = ProposalCodes.from_session_config([{"code": "mx", "ispyb": "MX"}])
    assert codes.translate("mx", "ldap") == "mx"
    assert codes.translate("mx", "ispyb") == "MX"
    assert ProposalCodes.from_session_config(None).translate("mx", "ispyb") == "mx"


def test_an_entry_without_code_is_a_configuration_error() -> None:
    with pytest.raises(LimsConfigError, match="entry 1"):
        ProposalCodes.from_session_config({"proposal": [{"code": "mx"}, {"ldap": "fx"}]})
