"""Which states, Choice branches and Catch edges of a state machine local runs have taken.

The items to cover come from the definition (every state, nested ``Parallel`` branches and ``Map``
processors included); what was taken comes from execution histories (``GetExecutionHistory`` events,
:attr:`~cdk_mlops.local.engine.ExecutionResult.history`), following each event's ``previousEventId``
so that interleaved branches of a ``Parallel`` or ``Map`` are read correctly:

* a **state** is covered when a ``*StateEntered`` event names it;
* a **Choice branch** is an edge from a Choice state to a state it can choose (a rule's ``Next`` or the
  ``Default``; rules sharing a ``Next`` are one edge, since the history names only the state that
  followed): covered when that state is entered right after the Choice exits;
* a **Catch edge** is an edge from a state to a catcher's ``Next``: covered when that state is entered
  right after the state exits on a failure (its last event a ``...Failed`` or ``...TimedOut``).

State names are unique within a state machine on AWS, nested states included, so names identify them.
Items that no local run can reach are excused through an explicit allow-list with the reason
(:class:`Excuse`), which the report lists.

Example::

    tracker = CoverageTracker()
    tracker.add_machine("churn-xgb/training", "training", definition)
    tracker.record("churn-xgb/training", result.history)
    print(tracker.report())
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "CoverageItems",
    "CoverageTracker",
    "Excuse",
    "MachineCoverage",
    "definition_items",
    "history_items",
]

_FAILURE_SUFFIXES = ("Failed", "TimedOut")


@dataclasses.dataclass(frozen=True)
class CoverageItems:
    """States (names), Choice branches and Catch edges (``(from state, to state)`` pairs)."""

    states: frozenset[str] = frozenset()
    branches: frozenset[tuple[str, str]] = frozenset()
    catches: frozenset[tuple[str, str]] = frozenset()

    def __or__(self, other: CoverageItems) -> CoverageItems:
        return CoverageItems(self.states | other.states, self.branches | other.branches, self.catches | other.catches)

    def __and__(self, other: CoverageItems) -> CoverageItems:
        return CoverageItems(self.states & other.states, self.branches & other.branches, self.catches & other.catches)

    def __sub__(self, other: CoverageItems) -> CoverageItems:
        return CoverageItems(self.states - other.states, self.branches - other.branches, self.catches - other.catches)

    def labels(self) -> list[str]:
        """Each item as an id: ``state:<name>``, ``branch:<choice> -> <next>``, ``catch:<state> -> <next>``."""
        return [
            *(f"state:{name}" for name in sorted(self.states)),
            *(f"branch:{source} -> {target}" for source, target in sorted(self.branches)),
            *(f"catch:{source} -> {target}" for source, target in sorted(self.catches)),
        ]

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> CoverageItems:
        """The items named by ids as :meth:`labels` writes them."""
        states: set[str] = set()
        branches: set[tuple[str, str]] = set()
        catches: set[tuple[str, str]] = set()
        for label in labels:
            kind, _, item = label.partition(":")
            if kind == "state":
                states.add(item)
                continue
            source, arrow, target = item.partition(" -> ")
            if kind not in ("branch", "catch") or not arrow:
                raise ValueError(
                    f"coverage item {label!r} is not 'state:<name>', 'branch:<choice> -> <next>' or "
                    "'catch:<state> -> <next>'"
                )
            (branches if kind == "branch" else catches).add((source, target))
        return cls(frozenset(states), frozenset(branches), frozenset(catches))


def definition_items(definition: Mapping[str, Any]) -> CoverageItems:
    """Every state, Choice branch and Catch edge of an ASL definition, nested states included."""
    states: set[str] = set()
    branches: set[tuple[str, str]] = set()
    catches: set[tuple[str, str]] = set()

    def visit(container: Mapping[str, Any]) -> None:
        for name, state in container.get("States", {}).items():
            states.add(name)
            if state.get("Type") == "Choice":
                targets = [rule.get("Next") for rule in state.get("Choices", [])] + [state.get("Default")]
                branches.update((name, target) for target in targets if target)
            catches.update((name, catcher["Next"]) for catcher in state.get("Catch", []) if catcher.get("Next"))
            for branch in state.get("Branches", []):
                visit(branch)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    visit(state[key])

    visit(definition)
    return CoverageItems(frozenset(states), frozenset(branches), frozenset(catches))


def _details(event: Mapping[str, Any], suffix: str) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith(suffix) and isinstance(value, Mapping):
            return value
    return {}


def history_items(history: Sequence[Mapping[str, Any]]) -> CoverageItems:
    """The states entered, Choice branches taken and Catch edges taken in one execution's history."""
    by_id = {event.get("id"): event for event in history}
    states: set[str] = set()
    branches: set[tuple[str, str]] = set()
    catches: set[tuple[str, str]] = set()
    for event in history:
        if not str(event.get("type", "")).endswith("StateEntered"):
            continue
        name = str(_details(event, "EventDetails").get("name"))
        states.add(name)
        exited = by_id.get(event.get("previousEventId"))
        if exited is None or not str(exited.get("type", "")).endswith("StateExited"):
            continue
        source = str(_details(exited, "EventDetails").get("name"))
        if exited["type"] == "ChoiceStateExited":
            branches.add((source, name))
            continue
        last = by_id.get(exited.get("previousEventId"))
        if last is not None and str(last.get("type", "")).endswith(_FAILURE_SUFFIXES):
            catches.add((source, name))
    return CoverageItems(frozenset(states), frozenset(branches), frozenset(catches))


@dataclasses.dataclass(frozen=True)
class Excuse:
    """An item no local run reaches, with the reason: ``item`` is an id as :meth:`CoverageItems.labels`
    writes it, for the state machine ``machine`` (e.g. ``churn-xgb/training``) or, by default, for every
    state machine of workflow kind ``kind``."""

    kind: str
    item: str
    reason: str
    machine: str | None = None


@dataclasses.dataclass(frozen=True)
class MachineCoverage:
    """Coverage of one state machine: what it has, what runs took, and what is excused (with why)."""

    machine: str
    kind: str
    expected: CoverageItems
    taken: CoverageItems
    excused: Mapping[str, str]
    runs: int

    @property
    def missing(self) -> list[str]:
        """Ids of the items no run took and no excuse covers."""
        return [label for label in (self.expected - self.taken).labels() if label not in self.excused]

    @property
    def complete(self) -> bool:
        """True if every item is taken or excused."""
        return not self.missing

    def counts(self) -> dict[str, tuple[int, int]]:
        """``{"states"|"branches"|"catches": (taken or excused, total)}``."""
        done = self.taken | CoverageItems.from_labels(self.excused)
        return {
            field: (len(getattr(self.expected & done, field)), len(getattr(self.expected, field)))
            for field in ("states", "branches", "catches")
        }

    @property
    def percent(self) -> float:
        """Items taken or excused, as a percentage of all items (100 for a machine with none)."""
        counts = self.counts().values()
        total = sum(total for _, total in counts)
        return 100.0 if total == 0 else 100.0 * sum(done for done, _ in counts) / total


class CoverageTracker:
    """Collects the histories of local runs per state machine and reports their coverage.

    :param excuses: items no local run can reach (default none), per workflow kind, with the reason.
    """

    def __init__(self, excuses: Iterable[Excuse] = ()) -> None:
        self._excuses = list(excuses)
        self._machines: dict[str, tuple[str, CoverageItems]] = {}
        self._taken: dict[str, CoverageItems] = {}
        self._runs: dict[str, int] = {}

    def add_machine(self, machine: str, kind: str, definition: Mapping[str, Any]) -> None:
        """Registers state machine ``machine`` (a label, e.g. ``churn-xgb/training``) of workflow ``kind``."""
        self._machines[machine] = (kind, definition_items(definition))
        self._taken.setdefault(machine, CoverageItems())
        self._runs.setdefault(machine, 0)

    @property
    def machines(self) -> list[str]:
        """The registered state machines, in the order they were added."""
        return list(self._machines)

    def record(self, machine: str, history: Sequence[Mapping[str, Any]]) -> CoverageItems:
        """Adds one execution of ``machine``; returns the items it took that no earlier run had."""
        if machine not in self._machines:
            raise KeyError(f"unknown state machine {machine!r}; add it with add_machine first")
        items = history_items(history) & self._machines[machine][1]
        new = items - self._taken[machine]
        self._taken[machine] = self._taken[machine] | items
        self._runs[machine] += 1
        return new

    def taken(self, machine: str) -> CoverageItems:
        """What the runs of ``machine`` took so far."""
        return self._taken[machine]

    def coverage(self) -> list[MachineCoverage]:
        """The coverage of every registered state machine."""
        found = []
        for machine, (kind, expected) in self._machines.items():
            labels = set(expected.labels())
            excused = {
                e.item: e.reason
                for e in self._excuses
                if e.kind == kind and e.item in labels and e.machine in (None, machine)
            }
            found.append(MachineCoverage(machine, kind, expected, self._taken[machine], excused, self._runs[machine]))
        return found

    @property
    def complete(self) -> bool:
        """True if every item of every state machine is taken or excused."""
        return all(machine.complete for machine in self.coverage())

    def report(self, title: str = "State machine coverage") -> str:
        """A table: machine, runs, states x/y, branches x/y, catches x/y, percent; then the missing and the
        excused items of each machine."""
        rows: list[tuple[str, ...]] = [("machine", "runs", "states", "branches", "catches", "covered")]
        for machine in self.coverage():
            counts = machine.counts()
            cells = [f"{done}/{total}" for done, total in counts.values()]
            rows.append((machine.machine, str(machine.runs), *cells, f"{machine.percent:.1f}%"))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = [title]
        for row in rows:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        for machine in self.coverage():
            for item in machine.missing:
                lines.append(f"MISSING {machine.machine}: {item}")
            for item, reason in sorted(machine.excused.items()):
                lines.append(f"excused {machine.machine}: {item} ({reason})")
        return "\n".join(lines)
