"""The error hierarchy: one root, built-in categories, mxcubecore's metadata errors reachable."""

from __future__ import annotations

import pytest
from mxcubecore.HardwareObjects.abstract import AbstractLims as core

from mxcubecore_lims import errors


@pytest.mark.parametrize("name", ["LimsMetadataGatherError", "LimsMetadataWriteError", "LimsMetadataUploadError"])
def test_mxcubecore_metadata_errors_are_caught_by_either_root(name: str) -> None:
    ours = getattr(errors, name)
    assert getattr(errors, name) is ours, "created once"
    for catch in (errors.LimsError, getattr(core, name)):
        with pytest.raises(catch):
            raise ours("upload failed")


def test_every_public_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.LimsError), name


def test_configuration_and_data_errors_are_value_errors_with_their_facts() -> None:
    problem = errors.ConfigValueError("bad port", "/etc/mx/lims.xml", 12, "port")
    assert isinstance(problem, ValueError)
    assert str(problem) == "/etc/mx/lims.xml:12: bad port"
    assert (problem.file, problem.line, problem.field) == ("/etc/mx/lims.xml", 12, "port")
    data = errors.LimsDataError("Image", "imageNumber", "x" * 500, "not an integer")
    assert isinstance(data, ValueError)
    assert str(data).startswith("Image.imageNumber: not an integer (got 'xxx")
    assert len(str(data)) < 260, "long values are shortened"
    assert str(errors.LimsDataError("Image", "", [], "not a dict")).startswith("Image: not a dict")


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        errors.NoSuchError  # noqa: B018
