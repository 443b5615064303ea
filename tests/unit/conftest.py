"""Fixtures shared by the unit tests of NDIS and the filters."""

import pytest

from nicemu.ndis.ndis import Ndis
from tests.unit.ndis.drivers import RecordingMiniport


@pytest.fixture
def ndis():
    """NDIS with the verifier on, as every test runs it."""
    return Ndis(verifier=True)


@pytest.fixture
def miniport(ndis):
    """A registered miniport driver that records every call."""
    return ndis.m_register_miniport_driver(RecordingMiniport(ndis))
