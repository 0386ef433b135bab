"""Funnel campaigns (漏斗型促销): follow → draw → pay, prize pools and seeded draws.

The catalog sections (``campaigns``, ``referral_programmes``, ``risk_policies``) are registered
by importing :mod:`cardbenefits.funnel.files`; this package does not import it itself because
``files`` depends on :mod:`cardbenefits.referrals` and :mod:`cardbenefits.risk`, which depend on
this package.

>>> from cardbenefits.funnel import Stage
>>> [str(s) for s in Stage]
['follow', 'draw', 'pay']
"""

from __future__ import annotations

from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, OutOfStock, Prize, PrizePool, Stage
from cardbenefits.funnel.reasons import Reason
from cardbenefits.funnel.state import FunnelEvent, FunnelStateError, ParticipantState, transition

__all__ = [
    "DrawLimits",
    "FunnelCampaign",
    "FunnelEvent",
    "FunnelStateError",
    "OutOfStock",
    "ParticipantState",
    "Prize",
    "PrizePool",
    "Reason",
    "Stage",
    "transition",
]
