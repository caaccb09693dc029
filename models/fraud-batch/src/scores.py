"""Reads a batch transform result of fraud-batch: one score (the probability of fraud) per input line,
in input order. Standard library only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def read_scores(lines: Iterable[str]) -> list[float]:
    """The scores of a ``<input file>.out`` result file (blank lines skipped)."""
    scores = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        score = float(text.split(",")[0])
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"line {number}: {score} is not a probability")
        scores.append(score)
    return scores


def flagged(ids: Sequence[str], scores: Sequence[float], threshold: float = 0.5) -> list[tuple[str, float]]:
    """The transactions whose score is at least ``threshold``, highest first. ``ids`` are the
    transaction ids in the order of the batch input lines, which the transform keeps."""
    if len(ids) != len(scores):
        raise ValueError(f"{len(ids)} transactions but {len(scores)} scores: the result does not match the input")
    pairs = [(transaction, score) for transaction, score in zip(ids, scores, strict=True) if score >= threshold]
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)
