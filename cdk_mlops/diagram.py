"""A picture of one model's pipeline, drawn from its synthesized template rather than from a fixed
drawing: the CodePipeline stages in order, and every state machine of the pipeline stack with each state,
each ``Next``, each Choice branch (labelled with its condition, and the ``Default``) and each ``Catch``
(dashed, labelled with the errors it catches). A stage that starts a state machine points at it.

Pure Python over template JSON: :func:`pipeline_graph` reads a pipeline stack's template and the
resolved state machine definitions; :func:`to_mermaid` and :func:`to_dot` render the graph.
``cdk-mlops diagram`` (:mod:`cdk_mlops.commands.diagram`) synthesizes the app and prints one of them;
SVG is the DOT text laid out by Graphviz compiled to WebAssembly (:mod:`cdk_mlops.diagram_svg`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

#: Logical IDs end in CDK's 8-hex-digit hash; the pipeline's children start with its construct id.
_HASH = re.compile(r"[0-9A-F]{8}$")
#: Comparison operators by the end of their ASL name (``NumericGreaterThanEquals``), longest first.
_COMPARISONS = {
    "GreaterThanEquals": ">=",
    "LessThanEquals": "<=",
    "GreaterThan": ">",
    "LessThan": "<",
    "Equals": "==",
}


@dataclasses.dataclass(frozen=True)
class Edge:
    """A transition: ``kind`` is ``next``, ``choice`` (a Choice rule, ``label`` its condition),
    ``default`` (a Choice's Default) or ``catch`` (``label`` the errors caught)."""

    source: str
    target: str
    kind: str
    label: str = ""


@dataclasses.dataclass(frozen=True)
class Machine:
    """One state machine: its label, logical ID, start state, each state's type (nested states of a
    Parallel or Map as ``<parent>/<branch>/<state>``) and every edge."""

    label: str
    logical_id: str
    start: str
    states: Mapping[str, str]
    edges: tuple[Edge, ...]


@dataclasses.dataclass(frozen=True)
class Stage:
    """A pipeline stage: its name, its actions' providers, and the logical IDs of the state machines it
    starts."""

    name: str
    providers: tuple[str, ...]
    machines: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PipelineGraph:
    """A model's pipeline: its stages in order and the state machines of its pipeline stack."""

    model: str
    stages: tuple[Stage, ...]
    machines: tuple[Machine, ...]


def machine_label(logical_id: str) -> str:
    """``MlPipelineTrainingE4186D57`` -> ``Training``: the construct path without the pipeline's prefix
    and CDK's hash."""
    name = _HASH.sub("", logical_id)
    name = name.removeprefix("MlPipeline") or name
    return name.removesuffix("StateMachine").removesuffix("Resource") or name


def describe_rule(rule: Mapping[str, Any]) -> str:
    """A Choice rule as a short condition: ``$.metrics.auc >= 0.8``, ``$.x is present``, ``not (...)``."""
    if "Not" in rule:
        return f"not ({describe_rule(rule['Not'])})"
    for joiner in ("And", "Or"):
        if joiner in rule:
            return f" {joiner.lower()} ".join(f"({describe_rule(part)})" for part in rule[joiner])
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"])
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key.startswith("Is"):
            kind = key.removeprefix("Is")
            return f"{variable} is {'' if value else 'not '}{kind.lower()}"
        operation = key.removesuffix("Path")
        for suffix, operator in _COMPARISONS.items():
            if operation.endswith(suffix):
                shown = str(value) if key.endswith("Path") else json.dumps(value)
                return f"{variable} {operator} {shown}"
        if key == "StringMatches":
            return f"{variable} matches {json.dumps(value)}"
    return json.dumps({key: value for key, value in rule.items() if key != "Next"}, sort_keys=True)


def _walk(states: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, list[Edge]]]:
    """``(name, type, edges)`` of every state, nested ones under ``<parent>/<branch>/``."""
    for name, state in states.items():
        full = f"{prefix}{name}"
        edges: list[Edge] = []
        kind = str(state.get("Type", "?"))
        if "Next" in state:
            edges.append(Edge(full, f"{prefix}{state['Next']}", "next"))
        for rule in state.get("Choices", []):
            edges.append(Edge(full, f"{prefix}{rule['Next']}", "choice", describe_rule(rule)))
        if "Default" in state:
            edges.append(Edge(full, f"{prefix}{state['Default']}", "default", "otherwise"))
        for catch in state.get("Catch", []):
            edges.append(Edge(full, f"{prefix}{catch['Next']}", "catch", ", ".join(catch.get("ErrorEquals", []))))
        branches = list(state.get("Branches", []))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                branches.append(state[key])
        inner = [(f"{full}/{index}/", branch) for index, branch in enumerate(branches)]
        for prefix_of_branch, branch in inner:
            label = "branch" if "Branches" in state else "each item"
            edges.append(Edge(full, f"{prefix_of_branch}{branch['StartAt']}", "next", label))
        yield full, kind, edges
        for prefix_of_branch, branch in inner:
            yield from _walk(branch["States"], prefix_of_branch)


def machine_graph(logical_id: str, definition: Mapping[str, Any]) -> Machine:
    """The graph of one state machine definition (ASL, tokens resolved)."""
    states: dict[str, str] = {}
    edges: list[Edge] = []
    for name, kind, outgoing in _walk(definition["States"], ""):
        states[name] = kind
        edges.extend(outgoing)
    return Machine(machine_label(logical_id), logical_id, str(definition["StartAt"]), states, tuple(edges))


def _stages(template: Mapping[str, Any]) -> tuple[Stage, ...]:
    pipelines = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::CodePipeline::Pipeline"]
    if not pipelines:
        return ()
    stages = []
    for stage in pipelines[0]["Properties"]["Stages"]:
        providers, machines = [], []
        for action in stage.get("Actions", []):
            providers.append(str(action.get("ActionTypeId", {}).get("Provider", "?")))
            arn = action.get("Configuration", {}).get("StateMachineArn")
            if isinstance(arn, dict) and "Ref" in arn:
                machines.append(str(arn["Ref"]))
        stages.append(Stage(str(stage["Name"]), tuple(providers), tuple(machines)))
    return tuple(stages)


def pipeline_graph(
    model: str, template: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]
) -> PipelineGraph:
    """``model``'s graph from its pipeline stack's ``template`` and the stack's state machine
    ``definitions`` by logical ID (resolved, e.g. ``TokenResolver.state_machine_definitions``)."""
    stages = _stages(template)
    order = [machine for stage in stages for machine in stage.machines]
    ranked = sorted(
        definitions, key=lambda logical_id: (order.index(logical_id) if logical_id in order else len(order), logical_id)
    )
    return PipelineGraph(
        model, stages, tuple(machine_graph(logical_id, definitions[logical_id]) for logical_id in ranked)
    )


# ---- Mermaid ---------------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "Choice": ("{", "}"),
    "Pass": ("(", ")"),
    "Succeed": ("([", "])"),
    "Fail": ("([", "])"),
    "Wait": ("[/", "/]"),
    "Parallel": ("[[", "]]"),
    "Map": ("[[", "]]"),
}


def _mermaid_text(text: str) -> str:
    """``text`` inside a quoted Mermaid label: quotes and angle brackets as entity codes."""
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _ids(graph: PipelineGraph) -> dict[tuple[int, str], str]:
    """Mermaid/DOT node ids: ``m<machine>_s<state>`` (state names may hold any character)."""
    return {
        (index, name): f"m{index}_s{position}"
        for index, machine in enumerate(graph.machines)
        for position, name in enumerate(machine.states)
    }


def _state_label(name: str, kind: str) -> str:
    short = name.rsplit("/", 1)[-1]
    return short if kind in ("Task", "Choice") else f"{short} ({kind})"


def to_mermaid(graph: PipelineGraph) -> str:
    """A Mermaid ``flowchart``: a subgraph of the pipeline's stages, then one per state machine; Catch
    edges dashed (``-.->``), Choice branches labelled with their condition."""
    ids = _ids(graph)
    machine_ids = {machine.logical_id: f"m{index}" for index, machine in enumerate(graph.machines)}
    lines = ["flowchart TD"]
    if graph.stages:
        lines.append(f'  subgraph pipeline["{_mermaid_text(graph.model)}: pipeline stages"]')
        lines.append("    direction LR")
        for index, stage in enumerate(graph.stages):
            lines.append(
                f'    stage{index}["{_mermaid_text(stage.name)}<br/>{_mermaid_text(", ".join(stage.providers))}"]'
            )
        lines += [f"    stage{index - 1} --> stage{index}" for index in range(1, len(graph.stages))]
        lines.append("  end")
    for index, machine in enumerate(graph.machines):
        lines.append(f'  subgraph m{index}["{_mermaid_text(machine.label)} ({_mermaid_text(machine.logical_id)})"]')
        lines.append(f'    m{index}_start(("start")) --> {ids[(index, machine.start)]}')
        for name, kind in machine.states.items():
            opening, closing = _MERMAID_SHAPES.get(kind, ("[", "]"))
            lines.append(f'    {ids[(index, name)]}{opening}"{_mermaid_text(_state_label(name, kind))}"{closing}')
        for edge in machine.edges:
            source, target = ids[(index, edge.source)], ids.get((index, edge.target), edge.target)
            arrow = "-.->" if edge.kind == "catch" else "-->"
            label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
            lines.append(f"    {source} {arrow}{label} {target}")
        lines.append("  end")
    for index, stage in enumerate(graph.stages):
        lines += [
            f'  stage{index} -.->|"starts"| {machine_ids[logical_id]}'
            for logical_id in stage.machines
            if logical_id in machine_ids
        ]
    return "\n".join(lines) + "\n"


# ---- Graphviz DOT -----------------------------------------------------------------------------------

_DOT_SHAPES = {
    "Choice": "diamond",
    "Pass": "box, style=rounded",
    "Succeed": "doublecircle",
    "Fail": "doubleoctagon",
    "Wait": "parallelogram",
    "Parallel": "box3d",
    "Map": "box3d",
}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: PipelineGraph) -> str:
    """A Graphviz digraph: a cluster of the stages, one per state machine; Catch edges dashed."""
    ids = _ids(graph)
    lines = ["digraph pipeline {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    lines.append('  edge [fontname="Helvetica", fontsize=9];')
    if graph.stages:
        lines.append("  subgraph cluster_pipeline {")
        lines.append(f"    label={_dot_text(graph.model + ': pipeline stages')};")
        lines.append("    rank=same;")
        for index, stage in enumerate(graph.stages):
            lines.append(f"    stage{index} [label={_dot_text(stage.name + chr(10) + ', '.join(stage.providers))}];")
        lines += [f"    stage{index - 1} -> stage{index};" for index in range(1, len(graph.stages))]
        lines.append("  }")
    for index, machine in enumerate(graph.machines):
        lines.append(f"  subgraph cluster_m{index} {{")
        lines.append(f"    label={_dot_text(f'{machine.label} ({machine.logical_id})')};")
        lines.append(f'    m{index}_start [label="start", shape=circle, width=0.3];')
        lines.append(f"    m{index}_start -> {ids[(index, machine.start)]};")
        for name, kind in machine.states.items():
            label, shape = _dot_text(_state_label(name, kind)), _DOT_SHAPES.get(kind, "box")
            lines.append(f"    {ids[(index, name)]} [label={label}, shape={shape}];")
        for edge in machine.edges:
            attributes = [f"label={_dot_text(edge.label)}"] if edge.label else []
            if edge.kind == "catch":
                attributes += ["style=dashed", 'color="#c0392b"']
            joined = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"    {ids[(index, edge.source)]} -> {ids.get((index, edge.target), edge.target)}{joined};")
        lines.append("  }")
    for index, stage in enumerate(graph.stages):
        for logical_id in stage.machines:
            position = next((i for i, machine in enumerate(graph.machines) if machine.logical_id == logical_id), None)
            if position is not None:
                lines.append(f"  stage{index} -> m{position}_start [style=dotted, arrowhead=odot];")
    lines.append("}")
    return "\n".join(lines) + "\n"
