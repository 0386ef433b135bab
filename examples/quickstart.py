"""Quick start: exact money for a cashback offer (grows with the library)."""

from cardbenefits import Money

spend = Money.parse("¥1,234.50")
cashback = spend.percent(5).min(Money.of(50))
print("spend:", spend.format("zh_CN"), "cashback:", cashback.format("zh_CN"))
print("split across 3 cards:", [m.format("en") for m in cashback.allocate([1, 1, 1])])
