"""Activation ladder (阶梯式激活) from examples/catalogs/rewards.yaml: a new-to-bank customer's
first months on a card, progress in zh_CN and en, the grant when a tier is reached, and a
refund that claws it back."""

from cardbenefits import (
    CardHolding,
    Customer,
    Engine,
    MemoryLedger,
    Money,
    Transaction,
    ladder_progress,
    load_catalog,
    local_datetime,
)

engine = Engine.from_catalog(load_catalog("examples/catalogs/rewards.yaml"))
welcome = engine.programme("welcome")
card = CardHolding("k-1", "mid_career", "gold", local_datetime(2026, 11, 5, 9))
bo = Customer("bo", "P-777", new_to_bank=True, cards=(card,))
ledger = MemoryLedger()

events = [
    ("t1", "180", (11, 10), "purchase", None),
    ("t2", "400", (11, 18), "purchase", None),
    ("r1", "200", (11, 20), "refund", "t2"),
    ("t3", "620", (11, 28), "purchase", None),
    ("t4", "1100", (12, 8), "purchase", None),
]
for txn_id, amount, (month, day), kind, refund_of in events:
    at = local_datetime(2026, month, day, 12)
    txn = Transaction(txn_id, "bo", "k-1", Money.of(amount), "m-88", "5812", "wechat_pay", kind, at,
                      refund_of=refund_of)  # fmt: skip
    decision = engine.decide(bo, txn, ledger)
    ledger.apply(decision.batch)
    print(f"== {txn_id} {kind} ¥{amount} on {at.date()}")
    for grant in decision.grants:
        if grant.programme_id == "welcome":
            print(grant.render("zh_CN"))
            print(grant.render("en"))
    status = ladder_progress(engine, welcome, bo, card, ledger, at.add(hours=1))
    print(status.render("zh_CN"))
    print(status.render("en"))
print("video month cards:", ledger.balance("bo", "membership:video"))
