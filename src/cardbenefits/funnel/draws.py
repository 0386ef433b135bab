"""Prize draws (抽奖): the seeded, recorded random source and the choice of a prize.

**Random source** (可回放、可审计的抽奖随机数).

A draw's random number is ``HMAC-SHA256(key=campaign seed, msg=campaign id ␟ request id)``,
first 8 bytes, big-endian: a pure function of the campaign seed and the draw request id.
The order or number of other draws never changes it, so replaying a day's requests in any
order, on any machine, reproduces every number; an auditor holding the seed recomputes it
from the request id stored in the ledger.

The number ``r`` (``0 <= r < 2**64``) becomes a point ``floor(r * W / 2**64)`` on the
cumulative weights ``W`` of the outcomes (exact integer arithmetic, no float).

>>> n = draw_number("s3cret", "e-life-eat", "req-1")
>>> n.hex
'de6015ed1f8f03fd'
>>> n == draw_number("s3cret", "e-life-eat", "req-1")
True
>>> n.point(100)
86
>>> draw_number("other-seed", "e-life-eat", "req-1").hex != n.hex
True
>>> seed_fingerprint("s3cret")
'890873f15ae4d66c'

**Choosing an outcome.** Outcomes are the pool's prizes in declared order, then the blank
(谢谢参与). The point selects the outcome whose cumulative-weight interval contains it. When
that prize has no stock left (total or today's), the pool's :class:`~.campaign.OutOfStock`
rule applies: ``blank`` gives 谢谢参与; ``redraw`` draws a second number (derived from
the first number) over the outcomes still in stock. Everything is recorded in
:meth:`DrawOutcome.meta`.

>>> from cardbenefits.funnel.campaign import Prize, PrizePool
>>> pool = PrizePool("p", [Prize("big", "大奖", coupon_template="big", weight=10),
...                        Prize("small", "小奖", coupon_template="small", weight=40)], blank_weight=50)
>>> outcome = choose(pool, n, lambda prize: True)     # point 86 of 100: the blank
>>> outcome.prize_id is None, outcome.fallback
(True, 'none')
>>> choose(pool, draw_number("s3cret", "e-life-eat", "req-7"), lambda prize: True).prize_id
'small'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from cardbenefits.errors import EngineError
from cardbenefits.funnel.campaign import OutOfStock, Prize, PrizePool
from cardbenefits.ledger.entries import Charge

__all__ = [
    "ALGORITHM",
    "DrawNumber",
    "DrawOutcome",
    "RecordingSource",
    "choose",
    "draw_number",
    "prize_counters",
    "redraw_number",
    "seed_fingerprint",
]

#: Name and version of the derivation, written into every draw's ledger meta.
ALGORITHM: Final = "hmac-sha256-64/v1"

_SPAN: Final = 1 << 64


def seed_fingerprint(seed: str) -> str:
    """A short public fingerprint of a seed (the ledger records this, never the seed)."""
    return hashlib.sha256(b"cardbenefits-seed\x00" + seed.encode()).hexdigest()[:16]


@attrs.frozen
class DrawNumber:
    """The random number of one draw, with what it was derived from."""

    campaign_id: str
    request_id: str
    value: int = attrs.field()

    @value.validator
    def _check(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if not 0 <= value < _SPAN:
            raise EngineError("draw number out of range", path="value", value=value)

    @property
    def hex(self) -> str:
        """The number as 16 hex digits (as recorded in ledger meta)."""
        return f"{self.value:016x}"

    def point(self, total_weight: int) -> int:
        """Map the number onto ``range(total_weight)`` (``floor(value * total / 2**64)``)."""
        if total_weight < 1:
            raise EngineError("total weight must be positive", path="total_weight", value=total_weight)
        return (self.value * total_weight) >> 64


def draw_number(seed: str, campaign_id: str, request_id: str) -> DrawNumber:
    """Derive the random number of draw ``request_id`` in ``campaign_id`` from ``seed``."""
    if not request_id:
        raise EngineError("a draw needs a request id", path="request_id", value=request_id)
    message = f"{campaign_id}\x1f{request_id}".encode()
    digest = hmac.new(seed.encode(), message, hashlib.sha256).digest()
    return DrawNumber(campaign_id, request_id, int.from_bytes(digest[:8], "big"))


@attrs.define
class RecordingSource:
    """A seeded source that also keeps a tape of every number it handed out, in order.

    >>> source = RecordingSource("s3cret")
    >>> source.number("c", "r1").hex == draw_number("s3cret", "c", "r1").hex
    True
    >>> [n.request_id for n in source.tape]
    ['r1']
    """

    seed: str
    tape: list[DrawNumber] = attrs.field(factory=list)

    def number(self, campaign_id: str, request_id: str) -> DrawNumber:
        """The number of ``request_id`` (same as :func:`draw_number`), appended to the tape."""
        result = draw_number(self.seed, campaign_id, request_id)
        self.tape.append(result)
        return result


FALLBACK_NONE: Final = "none"
FALLBACK_BLANK: Final = "blank"
FALLBACK_REDRAW: Final = "redraw"


@attrs.frozen
class DrawOutcome:
    """The audited result of choosing an outcome for one draw number.

    ``drawn_id`` is the prize the number first landed on (``None`` for the blank);
    ``prize_id`` the prize awarded after the out-of-stock rule; ``fallback`` says which rule
    changed it (``none``, ``blank`` or ``redraw``). ``redraw_total``/``redraw_point`` are the
    weights and point of the re-draw, when one happened.
    """

    number: DrawNumber
    total_weight: int
    point: int
    drawn_id: str | None
    prize_id: str | None
    fallback: str = FALLBACK_NONE
    redraw_total: int | None = None
    redraw_point: int | None = None
    redraw_number: DrawNumber | None = None
    out_of_stock: tuple[str, ...] = ()

    @property
    def won(self) -> bool:
        """Whether a prize (not the blank) was awarded."""
        return self.prize_id is not None

    @classmethod
    def from_meta(cls, meta: Mapping[str, str], seed: str, campaign_id: str) -> DrawOutcome:
        """Rebuild the outcome recorded by :meth:`meta` (a replayed or audited draw).

        The numbers are derived again from ``seed``; a record made with another seed, or one
        whose random number does not match, is refused.

        >>> from cardbenefits.funnel.campaign import Prize, PrizePool
        >>> prize = Prize("cut20", "满100减20", coupon_template="t", weight=1)
        >>> pool = PrizePool("p", (prize,), blank_weight=1)
        >>> first = choose(pool, draw_number("s3cret", "c", "r1"), lambda p: True)
        >>> DrawOutcome.from_meta(first.meta("s3cret"), "s3cret", "c") == first
        True
        """
        request_id = meta["draw.request"]
        number = draw_number(seed, campaign_id, request_id)
        if meta.get("draw.seed") != seed_fingerprint(seed) or meta.get("draw.random") != number.hex:
            raise EngineError(
                "the recorded draw was not made with this seed",
                path="meta.draw.random",
                value=meta.get("draw.random"),
            )
        second = redraw_number(number) if "draw.redraw_random" in meta else None
        if second is not None and meta["draw.redraw_random"] != second.hex:
            raise EngineError(
                "the recorded re-draw does not match",
                path="meta.draw.redraw_random",
                value=meta["draw.redraw_random"],
            )
        redraw_total = meta.get("draw.redraw_total_weight")
        redraw_point = meta.get("draw.redraw_point")
        out = meta.get("draw.out_of_stock", "")
        return cls(
            number=number,
            total_weight=int(meta["draw.total_weight"]),
            point=int(meta["draw.point"]),
            drawn_id=meta.get("draw.drawn") or None,
            prize_id=meta.get("draw.prize") or None,
            fallback=meta.get("draw.fallback", FALLBACK_NONE),
            redraw_total=None if redraw_total is None else int(redraw_total),
            redraw_point=None if redraw_point is None else int(redraw_point),
            redraw_number=second,
            out_of_stock=tuple(out.split(",")) if out else (),
        )

    def meta(self, seed: str) -> dict[str, str]:
        """The ledger meta that lets anyone holding ``seed`` re-check this draw."""
        meta = {
            "draw.algorithm": ALGORITHM,
            "draw.seed": seed_fingerprint(seed),
            "draw.request": self.number.request_id,
            "draw.random": self.number.hex,
            "draw.total_weight": str(self.total_weight),
            "draw.point": str(self.point),
            "draw.drawn": self.drawn_id or "",
            "draw.prize": self.prize_id or "",
            "draw.fallback": self.fallback,
        }
        if self.out_of_stock:
            meta["draw.out_of_stock"] = ",".join(self.out_of_stock)
        if self.redraw_total is not None:
            meta["draw.redraw_total_weight"] = str(self.redraw_total)
            meta["draw.redraw_point"] = str(self.redraw_point)
        if self.redraw_number is not None:
            meta["draw.redraw_random"] = self.redraw_number.hex
        return meta


def _pick(outcomes: list[tuple[str | None, int]], point: int) -> str | None:
    upper = 0
    for outcome_id, weight in outcomes:
        upper += weight
        if point < upper:
            return outcome_id
    raise EngineError("draw point beyond the total weight", path="point", value=point)  # pragma: no cover


def redraw_number(first: DrawNumber) -> DrawNumber:
    """The second number of a re-draw: derived like the first from ``request id ␟ redraw``.

    It hashes the first number's value (which already depends on the secret seed), so it is
    unpredictable before the first draw and recomputable by anyone auditing the first.

    >>> first = draw_number("s3cret", "c", "r1")
    >>> redraw_number(first) == redraw_number(draw_number("s3cret", "c", "r1"))
    True
    """
    message = f"{first.campaign_id}\x1f{first.request_id}\x1fredraw\x1f{first.value:016x}".encode()
    digest = hashlib.sha256(message).digest()
    return DrawNumber(first.campaign_id, first.request_id, int.from_bytes(digest[:8], "big"))


def choose(pool: PrizePool, number: DrawNumber, in_stock: Callable[[Prize], bool]) -> DrawOutcome:
    """Choose the outcome of ``number`` on ``pool``; ``in_stock(prize)`` says whether a prize is left.

    Pure and deterministic: the same pool, number and stock answers give the same outcome.
    """
    outcomes: list[tuple[str | None, int]] = [(prize.id, prize.weight) for prize in pool.prizes]
    outcomes.append((None, pool.blank_weight))
    total = pool.total_weight
    point = number.point(total)
    drawn = _pick(outcomes, point)
    if drawn is None or in_stock(pool.prize(drawn)):
        return DrawOutcome(number, total, point, drawn, drawn)
    if pool.on_out_of_stock is OutOfStock.BLANK:
        return DrawOutcome(number, total, point, drawn, None, FALLBACK_BLANK, out_of_stock=(drawn,))
    empty = tuple(prize.id for prize in pool.prizes if prize.id == drawn or not in_stock(prize))
    remaining = [(oid, weight) for oid, weight in outcomes if oid not in empty and weight > 0]
    redraw_total = sum(weight for _oid, weight in remaining)
    if redraw_total == 0:
        # Nothing left at all and no blank weight: the only honest outcome is no prize.
        return DrawOutcome(number, total, point, drawn, None, FALLBACK_BLANK, out_of_stock=empty)
    second = redraw_number(number)
    redraw_point = second.point(redraw_total)
    prize_id = _pick(remaining, redraw_point)
    return DrawOutcome(
        number, total, point, drawn, prize_id, FALLBACK_REDRAW, redraw_total, redraw_point, second, empty
    )


def prize_counters(pool: PrizePool, prize: Prize, day: str) -> tuple[Charge, Charge]:
    """The stock charges of winning ``prize`` on ``day`` (total, then daily), with their limits.

    >>> pool = PrizePool("pool", [Prize("cut20", "满100减20", coupon_template="cut20", weight=1, stock=100,
    ...                                 daily_stock=10)])
    >>> [(c.counter, c.limit) for c in prize_counters(pool, pool.prizes[0], "2026-11-23")]
    [('stock:prize:pool:cut20', Decimal('100')), ('stock:prize:pool:cut20:2026-11-23', Decimal('10'))]
    """
    base = f"stock:prize:{pool.id}:{prize.id}"
    return Charge(base, 1, prize.stock), Charge(f"{base}:{day}", 1, prize.daily_stock)
