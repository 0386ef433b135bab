"""Fixtures of the funnel tests (helpers live in ``funnel_support``)."""

from __future__ import annotations

import pytest
from funnel_support import make_campaign

from cardbenefits.funnel.campaign import FunnelCampaign


@pytest.fixture
def campaign() -> FunnelCampaign:
    """The ICBC e生活 style dining campaign with the default pool."""
    return make_campaign()
