"""Localized message templates of rule explanations (``zh_CN`` and ``en``).

>>> message("zh_CN", "needs_more", field="spend.month", actual="¥2,680.00", op="≥",
...         threshold="¥3,000.00", gap="¥320.00")
'spend.month 为 ¥2,680.00，需要 ≥ ¥3,000.00：还差 ¥320.00'
>>> message("en_US", "missing", field="age")
'age is missing'
>>> supported_locale("zh_Hans_CN"), supported_locale("fr")
('zh_CN', 'en')
"""

from __future__ import annotations

from typing import Final

__all__ = ["MESSAGES", "message", "supported_locale"]

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "head": "{verdict}: {rule}",
        "eligible": "Eligible",
        "not_eligible": "Not eligible",
        "unknown_result": "Not eligible: missing data ({fields})",
        "and": "all of",
        "or": "any of",
        "not": "not",
        "true": "yes",
        "false": "no",
        "unknown": "unknown",
        "missing": "{field} is missing",
        "is": "{field} is {actual}",
        "needs_more": "{field} is {actual}, needs {op} {threshold}: {gap} more",
        "needs_less": "{field} is {actual}, needs {op} {threshold}: {gap} over",
        "needs": "{field} is {actual}, needs {op} {threshold}",
        "has": "{field} includes {value}",
        "lacks": "{field} does not include {value}",
        "has_some": "{field} includes {values}",
        "has_none": "{field} includes none of {values}",
        "lacks_some": "{field} lacks {values}",
        "present": "{field} is present",
        "window": "{field} is {actual}; window starts {start}",
        "before": "{field} is {actual}; limit {limit}",
        "decisive": "decisive",
        "bool_true": "true",
        "bool_false": "false",
    },
    "zh_CN": {
        "head": "{verdict}：{rule}",
        "eligible": "符合条件",
        "not_eligible": "不符合条件",
        "unknown_result": "不符合条件：数据缺失（{fields}）",
        "and": "全部满足",
        "or": "任一满足",
        "not": "不满足",
        "true": "是",
        "false": "否",
        "unknown": "未知",
        "missing": "{field} 缺失",
        "is": "{field} 为 {actual}",
        "needs_more": "{field} 为 {actual}，需要 {op} {threshold}：还差 {gap}",
        "needs_less": "{field} 为 {actual}，需要 {op} {threshold}：超出 {gap}",
        "needs": "{field} 为 {actual}，需要 {op} {threshold}",
        "has": "{field} 包含 {value}",
        "lacks": "{field} 不包含 {value}",
        "has_some": "{field} 包含 {values}",
        "has_none": "{field} 不包含 {values} 中的任何一个",
        "lacks_some": "{field} 缺少 {values}",
        "present": "{field} 存在",
        "window": "{field} 为 {actual}；窗口起点 {start}",
        "before": "{field} 为 {actual}；界限 {limit}",
        "decisive": "决定性",
        "bool_true": "是",
        "bool_false": "否",
    },
}


def supported_locale(locale: str) -> str:
    """The message locale used for ``locale`` (Chinese → ``zh_CN``, anything else → ``en``)."""
    return "zh_CN" if locale.lower().startswith("zh") else "en"


def message(locale: str, key: str, **params: object) -> str:
    """The template ``key`` in ``locale`` filled with ``params``."""
    return MESSAGES[supported_locale(locale)][key].format(**params)
