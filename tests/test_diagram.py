"""``cdk-mlops diagram``: a model's pipeline stages and every state machine, drawn from the synthesized
template: every state and every transition (Next, each Choice rule with its condition, the Default,
each Catch, dashed) is in the picture, in Mermaid (default), DOT and SVG."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops.diagram import Machine, describe_rule, machine_graph, pipeline_graph, to_dot, to_mermaid
from cdk_mlops.scaffold import scaffold
from cdk_mlops_testing import REPO_ROOT

#: A definition with every kind of transition: Next, Choice rules and Default, Catch, a Parallel branch.
DEFINITION: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.score", "NumericGreaterThanEquals": 0.8, "Next": "Work"},
                {"Not": {"Variable": "$.score", "IsPresent": True}, "Next": "Missing"},
            ],
            "Default": "Rejected",
        },
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Next": "Both",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}],
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}}],
            "Next": "Done",
        },
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Next": "Failed"},
        "Missing": {"Type": "Fail", "Error": "MetricMissing"},
        "Rejected": {"Type": "Fail", "Error": "QualityGateRejected"},
        "Failed": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}

_NODE = re.compile(r'^\s+(m\d+_s\d+)[\[\(\{/]+"([^"]*)"')
_EDGE = re.compile(r'^\s+(m\d+_s\d+) (-->|-\.->)(?:\|"([^"]*)"\|)? (m\d+_s\d+)$')


def _mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str, str, str]]]:
    """``(node id -> label, {(source label, arrow, edge label, target label)})`` of a Mermaid flowchart."""
    nodes = {match[1]: match[2] for line in text.splitlines() if (match := _NODE.match(line))}
    edges = {
        (nodes[match[1]], match[2], match[3] or "", nodes[match[4]])
        for line in text.splitlines()
        if (match := _EDGE.match(line))
    }
    return nodes, edges


def _label(name: str, kind: str) -> str:
    short = name.rsplit("/", 1)[-1]
    return short if kind in ("Task", "Choice") else f"{short} ({kind})"


def _expected_edges(definition: dict[str, Any]) -> set[tuple[str, str, str]]:
    """``(source, arrow, target)`` of every transition of ``definition``'s top-level states, by label."""
    states = definition["States"]
    kinds = {name: state["Type"] for name, state in states.items()}
    found = set()
    for name, state in states.items():
        source = _label(name, state["Type"])
        targets = [("-->", state["Next"])] if "Next" in state else []
        targets += [("-->", rule["Next"]) for rule in state.get("Choices", [])]
        targets += [("-->", state["Default"])] if "Default" in state else []
        targets += [("-.->", catch["Next"]) for catch in state.get("Catch", [])]
        found |= {(source, arrow, _label(target, kinds[target])) for arrow, target in targets}
    return found


def _single(machine: Machine) -> str:
    from cdk_mlops.diagram import PipelineGraph

    return to_mermaid(PipelineGraph("m", (), (machine,)))


def test_every_state_and_transition_of_a_definition_is_drawn() -> None:
    nodes, edges = _mermaid(_single(machine_graph("MlPipelineTraining0123ABCD", DEFINITION)))

    expected = ["Check", "Work", "Both (Parallel)", "Left (Pass)", "Notify", "Missing (Fail)", "Rejected (Fail)"]
    assert sorted(nodes.values()) == sorted([*expected, "Failed (Fail)", "Done (Succeed)"])
    assert {(source, arrow, target) for source, arrow, _, target in edges} >= _expected_edges(DEFINITION)
    assert ("Both (Parallel)", "-->", "branch", "Left (Pass)") in edges


def test_choice_branches_carry_their_condition_and_the_default_says_otherwise() -> None:
    _, edges = _mermaid(_single(machine_graph("X", DEFINITION)))

    assert ("Check", "-->", "$.score #gt;= 0.8", "Work") in edges
    assert ("Check", "-->", "not ($.score is present)", "Missing (Fail)") in edges
    assert ("Check", "-->", "otherwise", "Rejected (Fail)") in edges


def test_a_catch_edge_is_dashed_and_names_the_errors_it_catches() -> None:
    _, edges = _mermaid(_single(machine_graph("X", DEFINITION)))
    dot = to_dot(pipeline_graph("m", {}, {"X": DEFINITION}))

    assert ("Work", "-.->", "States.ALL", "Notify") in edges
    assert [edge for edge in edges if edge[1] == "-.->"] == [("Work", "-.->", "States.ALL", "Notify")]
    ids = {label: node for node, label in re.findall(r'(m0_s\d+) \[label="([^"]+)"', dot)}
    assert f'{ids["Work"]} -> {ids["Notify"]} [label="States.ALL", style=dashed' in dot


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$.a", "NumericLessThanEquals": 3}, "$.a <= 3"),
        ({"Variable": "$.a", "StringEquals": "x"}, '$.a == "x"'),
        ({"Variable": "$.a", "NumericGreaterThanPath": "$.b"}, "$.a > $.b"),
        (
            {"And": [{"Variable": "$.a", "IsNull": False}, {"Variable": "$.b", "BooleanEquals": True}]},
            "($.a is not null) and ($.b == true)",
        ),
    ],
)
def test_conditions_read_as_comparisons(rule: dict[str, Any], text: str) -> None:
    assert describe_rule(rule) == text


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one scaffolded script-mode model."""
    root = tmp_path_factory.mktemp("repository")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        scaffold("drawn", "sklearn", "models")
    return root / "models"


@pytest.fixture(scope="module")
def synthesized(models_dir: Path) -> dict[str, dict[str, Any]]:
    from cdk_mlops.local.harness import TokenResolver, synthesize_templates

    templates = synthesize_templates(models_dir)
    return {
        "template": templates["Mlops-drawn-Pipeline"],
        "definitions": TokenResolver(templates).state_machine_definitions("Mlops-drawn-Pipeline"),
    }


def test_every_state_machine_of_the_synthesized_pipeline_is_drawn_whole(
    synthesized: dict[str, Any], capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    assert main(["diagram", "drawn", "--models-dir", str(models_dir)]) == 0
    text = capsys.readouterr().out
    blocks = text.split("  subgraph m")[1:]

    assert len(blocks) == len(synthesized["definitions"]) >= 4
    for logical_id, definition in synthesized["definitions"].items():
        (block,) = [block for block in blocks if f"({logical_id})" in block.splitlines()[0]]
        nodes, edges = _mermaid("  subgraph m" + block)
        kinds = {name: state["Type"] for name, state in definition["States"].items()}
        assert sorted(nodes.values()) == sorted(_label(name, kind) for name, kind in kinds.items())
        assert {(source, arrow, target) for source, arrow, _, target in edges} == _expected_edges(definition)


def test_the_stages_are_the_pipelines_in_order_and_point_at_the_workflows_they_start(
    synthesized: dict[str, Any],
) -> None:
    graph = pipeline_graph("drawn", synthesized["template"], synthesized["definitions"])
    (pipeline,) = [
        r for r in synthesized["template"]["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]

    assert [stage.name for stage in graph.stages] == [stage["Name"] for stage in pipeline["Properties"]["Stages"]]
    train = next(stage for stage in graph.stages if stage.name == "Train")
    assert [graph.machines[0].logical_id] == list(train.machines)
    assert graph.machines[0].label == "Training"
    mermaid = to_mermaid(graph)
    assert '  stage2 -.->|"starts"| m0' in mermaid


def test_svg_is_drawn_offline_with_dashed_catch_edges(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthesized: dict[str, Any]
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # node_modules/@viz-js/viz, pinned in package.json
    output = tmp_path / "drawn.svg"

    assert main(["diagram", "drawn", "--models-dir", str(models_dir), "--format", "svg", "-o", str(output)]) == 0

    svg = output.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    catches = sum(
        len(state.get("Catch", [])) for d in synthesized["definitions"].values() for state in d["States"].values()
    )
    assert svg.count('stroke-dasharray="5,2"') == catches > 0
    assert ">RegisterModel</text>" in svg and ">QualityGate validation_accuracy</text>" in svg


def test_svg_without_its_renderer_says_how_to_get_it_before_synthesizing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], models_dir: Path
) -> None:
    import cdk_mlops.local.harness as harness

    monkeypatch.chdir(tmp_path)  # no node_modules here or above
    monkeypatch.setattr(harness, "synthesize_templates", lambda *a: pytest.fail("synthesized"))

    code = main(["diagram", "drawn", "--models-dir", str(models_dir), "--format", "svg"])

    assert code == 1
    assert "needs the npm package @viz-js/viz" in capsys.readouterr().err


def test_an_unknown_model_is_refused_before_synthesizing(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cdk_mlops.local.harness as harness

    monkeypatch.setattr(harness, "synthesize_templates", lambda *a: pytest.fail("synthesized"))

    assert main(["diagram", "drwan", "--models-dir", str(models_dir)]) == 2
    assert "did you mean 'drawn'?" in capsys.readouterr().err


def test_the_dot_text_is_graphviz_input_for_every_state(synthesized: dict[str, Any]) -> None:
    dot = to_dot(pipeline_graph("drawn", synthesized["template"], synthesized["definitions"]))
    states = {name for d in synthesized["definitions"].values() for name in d["States"]}

    assert dot.startswith("digraph pipeline {")
    labels = set(re.findall(r'\[label="([^"]+?)(?: \(\w+\))?", shape=', dot))
    assert states <= labels
    assert json.dumps(dot)  # plain text
