"""Shared helpers for catalog tests: a small valid catalog document to mutate."""

from __future__ import annotations

import copy
from typing import Any

import pendulum
import pytest

AT = pendulum.datetime(2026, 11, 1, 12, tz="Asia/Shanghai")


def base_document() -> dict[str, Any]:
    """A small valid catalog as YAML/JSON would give it."""
    return copy.deepcopy(
        {
            "id": "test",
            "version": "1.0",
            "benefits": [
                {"id": "cashback", "kind": "cashback", "name": "返现", "rate": 1},
                {
                    "id": "lounge",
                    "kind": "service",
                    "name": {"zh_CN": "贵宾厅", "en": "Lounge"},
                    "service": "lounge",
                },
                {"id": "video", "kind": "membership", "name": "视频会员", "membership": "video"},
            ],
            "products": [
                {
                    "id": "card",
                    "name": {"zh_CN": "测试卡", "en": "Test card"},
                    "tiers": ["gold"],
                    "core": ["cashback"],
                    "slots": 2,
                    "modules": [
                        {"id": "m_lounge", "name": "贵宾厅", "benefits": ["lounge"], "shareable": True},
                        {"id": "m_video", "name": "视频", "benefits": ["video"], "requires": ["m_lounge"]},
                    ],
                }
            ],
        }
    )


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh copy of :func:`base_document`."""
    return base_document()
