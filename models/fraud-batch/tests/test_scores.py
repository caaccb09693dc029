"""Reading a transform result back: one probability per input line, paired with the input's ids."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("scores", Path(__file__).resolve().parent.parent / "src" / "scores.py")
assert SPEC is not None and SPEC.loader is not None
scores = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(scores)


def test_scores_are_read_one_per_line_skipping_blank_lines() -> None:
    assert scores.read_scores(["0.01\n", "\n", "0.93\n", "0.5"]) == [0.01, 0.93, 0.5]


def test_a_score_outside_0_to_1_names_its_line() -> None:
    with pytest.raises(ValueError, match=r"line 2: 1\.5 is not a probability"):
        scores.read_scores(["0.2", "1.5"])


def test_flagged_transactions_are_paired_by_position_and_sorted_by_score() -> None:
    assert scores.flagged(["a", "b", "c"], [0.2, 0.9, 0.6], threshold=0.5) == [("b", 0.9), ("c", 0.6)]


def test_a_result_with_fewer_scores_than_transactions_is_refused() -> None:
    with pytest.raises(ValueError, match="3 transactions but 2 scores"):
        scores.flagged(["a", "b", "c"], [0.2, 0.9])
