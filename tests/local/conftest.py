"""Fixtures for the local Step Functions engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdk_mlops.local.engine import LocalEngine


@pytest.fixture
def engine() -> Iterator[LocalEngine]:
    """A running LocalEngine with fresh moto state; stopped after the test."""
    with LocalEngine() as running:
        yield running
