"""What the example app costs while idle, and what one release (one pipeline run) costs.

    .venv/bin/python -m bench.cost [cdk.out] [--prices bench/prices.json] [--out bench/cost.md]
                                   [--build-minutes 5] [--update-minutes 10] [--releases-per-month 4]
                                   [--transform-minutes 30]

Reads the synthesized templates of a cloud assembly (``cdk synth`` first; when the folder does not
exist the example app is synthesized into it in-process, validation off) and prices, per model and for
the whole app:

* idle per month, nobody pushing: KMS keys; endpoints once deployed (instance endpoints cost
  instance-hours x max(initial count, autoscaling minimum) even with no traffic, serverless costs
  nothing idle); CloudWatch alarms (the template's plus the two that every target-tracking scaling
  policy creates). CodePipeline V2, Step Functions, CodeBuild, Lambda and SNS have no fixed fee; log
  and artifact storage is left out (usage-dependent, cents at this scale).
* per run, an upper bound: Step Functions standard state transitions, counted on each state machine's
  success path from its definition (polling loops repeated for the assumed stack update time);
  CodeBuild minutes at the project's compute type; SageMaker training and processing jobs at their
  instance type and count for their full max runtime (spot discounts ignored); the smoke-test
  Lambda; CodePipeline V2 action minutes; the second (green) fleet a blue/green update of an
  instance endpoint runs while traffic shifts and bakes; and a batch model's transform job for an
  assumed duration (``--transform-minutes``).
* several models on one endpoint: each shared endpoint (inference components) at its instances,
  against one endpoint per model of the same instance type (``--shared-endpoints ASSEMBLY`` prices
  another assembly's, e.g. ``cdk synth -c models_dir=examples -o /tmp/ex``).
* scheduled per month: each EventBridge Scheduler schedule (a drift check, a nightly batch transform)
  runs its workflow that often; priced as one run of it (jobs and state transitions, as above).

Prices come from ``bench/prices.json`` (list prices as remembered on its date; check them).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_STACK = re.compile(r"^(?P<prefix>.+?)-(?P<model>.+)-(?P<kind>Pipeline|Staging|Production)$")

Template = dict[str, Any]
Definition = dict[str, Any]


# ---- reading the assembly ---------------------------------------------------------------------------


def synthesize_example_app(outdir: Path) -> None:
    """Synthesizes ``app.py``'s models (validation off, cdk.json's feature flags) into ``outdir``."""
    os.environ.setdefault("CDK_VALIDATION", "false")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app

    cdk_json = REPO_ROOT / "cdk.json"
    context = (
        json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}) if cdk_json.is_file() else {}
    )
    app = cdk.App(outdir=str(outdir), context=context)
    build_app(app, REPO_ROOT / "models")
    app.synth()


def load_templates(assembly: Path) -> dict[str, Template]:
    """Stack name -> template, through the assembly's manifest (falls back to ``*.template.json``)."""
    manifest_path = assembly / "manifest.json"
    templates: dict[str, Template] = {}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for name, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") == "aws:cloudformation:stack":
                path = assembly / artifact["properties"]["templateFile"]
                templates[name] = json.loads(path.read_text(encoding="utf-8"))
    else:
        for path in assembly.glob("*.template.json"):
            templates[path.name.removesuffix(".template.json")] = json.loads(path.read_text(encoding="utf-8"))
    return dict(sorted(templates.items()))


def resources(template: Template, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == kind:
            yield logical_id, resource.get("Properties", {})


def flatten(value: Any) -> str:
    """A CloudFormation string value with every token replaced by ``<ref>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    return "<ref>"


def state_machines(template: Template) -> dict[str, Definition]:
    """Logical ID -> parsed Amazon States Language definition."""
    found = {}
    for logical_id, properties in resources(template, "AWS::StepFunctions::StateMachine"):
        definition = properties.get("DefinitionString")
        if definition is None:
            continue
        found[logical_id] = json.loads(flatten(definition))
    return found


def number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


# ---- state machines -------------------------------------------------------------------------------------


def success_edges(state: dict[str, Any]) -> list[str]:
    """Where a state can go without an error: Next, and every branch of a Choice (no Catch)."""
    targets = []
    if "Next" in state:
        targets.append(state["Next"])
    for choice in state.get("Choices", []):
        targets.append(choice["Next"])
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def success_path(definition: Definition) -> list[str]:
    """The shortest run from StartAt to a Succeed state (or a non-Fail state with End), without Catch."""
    states = definition["States"]
    start = definition["StartAt"]
    previous: dict[str, str | None] = {start: None}
    queue = collections.deque([start])
    while queue:
        name = queue.popleft()
        state = states[name]
        if state["Type"] == "Succeed" or (state.get("End") and state["Type"] != "Fail"):
            path = [name]
            while (before := previous[path[-1]]) is not None:
                path.append(before)
            return list(reversed(path))
        for target in success_edges(state):
            if target not in previous:
                previous[target] = name
                queue.append(target)
    return []


def loops(definition: Definition) -> list[list[str]]:
    """Strongly connected groups of more than one state over the success edges (polling loops)."""
    states = definition["States"]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(name: str) -> None:
        index[name] = low[name] = counter[0]
        counter[0] += 1
        stack.append(name)
        on_stack.add(name)
        for target in success_edges(states[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                groups.append(group)

    for name in states:
        if name not in index:
            visit(name)
    return groups


@dataclasses.dataclass
class Transitions:
    """State transitions of one successful execution."""

    path: int
    loop_states: int
    loop_iterations: int
    wait_seconds: float

    @property
    def total(self) -> int:
        return self.path + max(0, self.loop_iterations - 1) * self.loop_states


def count_transitions(definition: Definition, loop_seconds: float) -> Transitions:
    """States entered on the success path, plus the extra rounds of a polling loop that runs for
    ``loop_seconds`` (each round waits the loop's Wait state)."""
    path = success_path(definition)
    on_path = set(path)
    for group in loops(definition):
        if on_path.intersection(group):
            wait = sum(number(definition["States"][name].get("Seconds")) for name in group)
            iterations = math.ceil(loop_seconds / wait) if wait > 0 else 1
            return Transitions(len(path), len(group), iterations, wait)
    return Transitions(len(path), 0, 0, 0.0)


def tasks(definition: Definition) -> Iterator[dict[str, Any]]:
    """Every state (nested Parallel branches and Map iterators included)."""
    for state in definition.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from tasks(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from tasks(state[key])


def role_of(definition: Definition) -> str:
    """What a state machine does, from the services its tasks call."""
    resources_called = " ".join(str(state.get("Resource", "")) for state in tasks(definition))
    if "createTrainingJob" in resources_called:
        return "training"
    if "createTransformJob" in resources_called:
        return "batch transform"
    if "createProcessingJob" in resources_called:
        return "drift check"
    if "cloudformation:updateStack" in resources_called:
        return "deploy"
    if ":lambda:" in resources_called:
        return "smoke test"
    return "other"


def deployed_stack(definition: Definition) -> str | None:
    for state in tasks(definition):
        if "cloudformation:updateStack" in str(state.get("Resource", "")):
            name = state.get("Parameters", {}).get("StackName")
            return name if isinstance(name, str) else None
    return None


# ---- endpoints ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Endpoint:
    """One endpoint stack's endpoint as the template describes it."""

    stack: str
    serverless: bool
    instance_type: str | None
    instances: int
    blue_green_extra_minutes: float
    alarms: int

    def describe(self) -> str:
        if self.serverless:
            return "serverless"
        return f"{self.instances} x {self.instance_type}"


def endpoint_of(stack: str, template: Template) -> Endpoint | None:
    configs = list(resources(template, "AWS::SageMaker::EndpointConfig"))
    if not configs:
        return None
    variant = configs[0][1].get("ProductionVariants", [{}])[0]
    minimum = max(
        (
            int(number(properties.get("MinCapacity"), 1))
            for _, properties in resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
            if properties.get("ScalableDimension") == "sagemaker:variant:DesiredInstanceCount"
        ),
        default=0,
    )
    target_tracking = sum(
        1
        for _, properties in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
        if properties.get("PolicyType") == "TargetTrackingScaling"
    )
    alarms = len(list(resources(template, "AWS::CloudWatch::Alarm")))
    extra = 0.0
    for _, properties in resources(template, "AWS::SageMaker::Endpoint"):
        policy = properties.get("DeploymentConfig", {}).get("BlueGreenUpdatePolicy")
        if not policy:
            continue
        routing = policy.get("TrafficRoutingConfiguration", {})
        wait = number(routing.get("WaitIntervalInSeconds"))
        steps = 0
        if routing.get("Type") == "CANARY":
            steps = 1
        elif routing.get("Type") == "LINEAR":
            size = number(routing.get("LinearStepSize", {}).get("Value"), 100)
            steps = max(1, math.ceil(100 / size) - 1)
        extra = (steps * wait + number(policy.get("TerminationWaitInSeconds"))) / 60
    serverless = "ServerlessConfig" in variant
    return Endpoint(
        stack=stack,
        serverless=serverless,
        instance_type=None if serverless else variant.get("InstanceType"),
        instances=0 if serverless else max(int(number(variant.get("InitialInstanceCount"), 1)), minimum),
        blue_green_extra_minutes=0.0 if serverless else extra,
        alarms=alarms + 2 * target_tracking,
    )


# ---- pricing --------------------------------------------------------------------------------


class Prices:
    """``bench/prices.json``; a missing price is reported, never guessed."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.missing: set[str] = set()
        self.hours = float(data.get("hours_per_month", 730))

    def get(self, *keys: str) -> float:
        value: Any = self.data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                self.missing.add("/".join(keys))
                return 0.0
            value = value[key]
        return float(value)


@dataclasses.dataclass
class MachineCost:
    model: str
    name: str
    role: str
    transitions: Transitions
    cost: float


@dataclasses.dataclass
class ModelCost:
    """One model's idle monthly cost and per-run cost, item by item."""

    model: str
    endpoints: list[Endpoint]
    idle: dict[str, float]
    run: dict[str, float]
    machines: list[MachineCost]
    run_notes: list[str]

    @property
    def idle_total(self) -> float:
        return sum(self.idle.values())

    @property
    def run_total(self) -> float:
        return sum(self.run.values())


def job_costs(
    definition: Definition, prices: Prices, transform_minutes: float
) -> tuple[dict[str, float], float, list[str]]:
    """(USD by kind: training, processing, batch transform; job minutes; notes) for every SageMaker job:
    training and processing jobs at their max runtime, transform jobs (no max runtime) for
    ``transform_minutes``."""
    training = processing = transform = minutes = 0.0
    notes = []
    for state in tasks(definition):
        resource = str(state.get("Resource", ""))
        parameters = state.get("Parameters", {})
        runtime = number(parameters.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")) / 3600
        if "createTrainingJob" in resource:
            config = parameters.get("ResourceConfig", {})
            instance = str(config.get("InstanceType"))
            count = number(config.get("InstanceCount"), 1)
            training += runtime * count * prices.get("sagemaker", "training_per_instance_hour", instance)
            minutes += runtime * 60
            spot = " (managed spot: usually far less)" if parameters.get("EnableManagedSpotTraining") else ""
            notes.append(f"training {count:g} x {instance} <= {runtime * 60:.0f} min{spot}")
        elif "createProcessingJob" in resource:
            config = parameters.get("ProcessingResources", {}).get("ClusterConfig", {})
            instance = str(config.get("InstanceType"))
            count = number(config.get("InstanceCount"), 1)
            processing += runtime * count * prices.get("sagemaker", "processing_per_instance_hour", instance)
            minutes += runtime * 60
            notes.append(f"processing {count:g} x {instance} <= {runtime * 60:.0f} min")
        elif "createTransformJob" in resource:
            config = parameters.get("TransformResources", {})
            instance = str(config.get("InstanceType"))
            count = number(config.get("InstanceCount"), 1)
            rate = prices.get("sagemaker", "batch_transform_per_instance_hour", instance)
            transform += transform_minutes / 60 * count * rate
            minutes += transform_minutes
            notes.append(f"batch transform {count:g} x {instance} ~ {transform_minutes:g} min (assumed)")
    return {"training": training, "processing": processing, "batch transform": transform}, minutes, notes


#: EventBridge Scheduler ``rate()`` units in hours.
RATE_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}


def runs_per_month(expression: str, hours_per_month: float) -> float | None:
    """How often a Scheduler expression fires in a month: ``rate(...)``, or a ``cron(...)`` firing every
    day at fixed minutes and hours (lists allowed); None for anything else (priced as unknown)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if rate:
        return hours_per_month / (int(rate[1]) * RATE_HOURS[rate[2]])
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    if cron is None:
        return None
    minutes, hours, day_of_month, month, day_of_week, year = cron.groups()
    if {day_of_month, day_of_week} - {"*", "?"} or month != "*" or year not in ("*", "?"):
        return None
    if not re.fullmatch(r"[\d,]+", minutes) or not re.fullmatch(r"[\d,]+|\*", hours):
        return None
    per_day = len(minutes.split(",")) * (24 if hours == "*" else len(hours.split(",")))
    return per_day * hours_per_month / 24


def price_model(
    model: str, stacks: dict[str, Template], names: dict[str, str], prices: Prices, args: argparse.Namespace
) -> ModelCost:
    """``stacks``: kind (Pipeline, Staging, Production) -> template; ``names``: kind -> stack name."""
    hours = prices.hours
    endpoints = {
        names[kind]: endpoint
        for kind in ("Staging", "Production")
        if kind in stacks and (endpoint := endpoint_of(names[kind], stacks[kind])) is not None
    }
    idle = {"endpoints": 0.0, "alarms": 0.0, "kms": 0.0}
    for endpoint in endpoints.values():
        if not endpoint.serverless and endpoint.instance_type:
            rate = prices.get("sagemaker", "realtime_inference_per_instance_hour", endpoint.instance_type)
            idle["endpoints"] += endpoint.instances * rate * hours
    alarm_count = sum(endpoint.alarms for endpoint in endpoints.values())
    alarm_count += len(list(resources(stacks.get("Pipeline", {}), "AWS::CloudWatch::Alarm")))
    idle["alarms"] = alarm_count * prices.get("cloudwatch", "standard_alarm_per_month")
    keys = sum(len(list(resources(template, "AWS::KMS::Key"))) for template in stacks.values())
    idle["kms"] = keys * prices.get("kms", "customer_managed_key_per_month")

    pipeline = stacks.get("Pipeline", {})
    run = {
        "step functions": 0.0,
        "codebuild": 0.0,
        "training": 0.0,
        "processing": 0.0,
        "batch transform": 0.0,
        "lambda": 0.0,
        "pipeline minutes": 0.0,
        "blue/green fleet": 0.0,
    }
    notes: list[str] = []
    machines = []
    action_minutes = 1.0  # the source action
    for logical_id, definition in state_machines(pipeline).items():
        role = role_of(definition)
        loop_seconds = 0.0
        if role == "deploy":
            endpoint = endpoints.get(deployed_stack(definition) or "")
            update = args.update_minutes + (endpoint.blue_green_extra_minutes if endpoint else 0.0)
            loop_seconds = update * 60
            action_minutes += update + 1
            if endpoint and not endpoint.serverless and endpoint.instance_type:
                rate = prices.get("sagemaker", "realtime_inference_per_instance_hour", endpoint.instance_type)
                run["blue/green fleet"] += endpoint.instances * rate * update / 60
        transitions = count_transitions(definition, loop_seconds)
        cost = transitions.total / 1000 * prices.get("stepfunctions", "standard_per_1000_state_transitions")
        run["step functions"] += cost
        machines.append(MachineCost(model, logical_id, role, transitions, cost))
        if role in ("training", "batch transform"):
            jobs, minutes, job_notes = job_costs(definition, prices, args.transform_minutes)
            for kind, usd_ in jobs.items():
                run[kind] += usd_
            action_minutes += minutes + 1
            notes += job_notes
        elif role == "smoke test":
            action_minutes += 1
    for _, properties in resources(pipeline, "AWS::CodeBuild::Project"):
        compute = str(properties.get("Environment", {}).get("ComputeType"))
        run["codebuild"] += args.build_minutes * prices.get("codebuild", "per_build_minute", compute)
        action_minutes += args.build_minutes
        notes.append(f"CodeBuild {compute} x {args.build_minutes:g} min")
    for _, properties in resources(pipeline, "AWS::Lambda::Function"):
        memory_gb = number(properties.get("MemorySize"), 128) / 1024
        run["lambda"] += memory_gb * args.smoke_seconds * prices.get("lambda", "per_gb_second")
        run["lambda"] += prices.get("lambda", "per_million_requests") / 1_000_000
    run["pipeline minutes"] = math.ceil(action_minutes) * prices.get(
        "codepipeline", "v2_per_action_execution_minute"
    )
    notes.append(f"~{math.ceil(action_minutes)} CodePipeline action minutes")
    idle["scheduled jobs"] = price_schedules(model, pipeline, prices, args, notes)
    return ModelCost(model, list(endpoints.values()), idle, run, machines, notes)


def price_schedules(
    model: str, pipeline: Template, prices: Prices, args: argparse.Namespace, notes: list[str]
) -> float:
    """USD per month of the workflows the pipeline stack's schedules start (one run each time)."""
    machines = state_machines(pipeline)
    total = 0.0
    for _, properties in resources(pipeline, "AWS::Scheduler::Schedule"):
        expression = str(properties.get("ScheduleExpression"))
        target = properties.get("Target", {}).get("Arn", {})
        definition = machines.get(target.get("Ref", "") if isinstance(target, dict) else "")
        runs = runs_per_month(expression, prices.hours)
        if definition is None or runs is None:
            notes.append(f"schedule {expression}: not priced")
            continue
        jobs, _, _ = job_costs(definition, prices, args.transform_minutes)
        transitions = count_transitions(definition, 0.0).total
        per_run = sum(jobs.values()) + transitions / 1000 * prices.get(
            "stepfunctions", "standard_per_1000_state_transitions"
        )
        total += runs * per_run
        notes.append(f"{role_of(definition)} on {expression}: {runs:.0f} runs/month x {usd(per_run)} USD")
    return total


def price_shared(stacks: dict[str, Template], prices: Prices) -> dict[str, float]:
    """The stacks every model shares (the platform): KMS keys and alarms."""
    keys = sum(len(list(resources(template, "AWS::KMS::Key"))) for template in stacks.values())
    alarms = sum(len(list(resources(template, "AWS::CloudWatch::Alarm"))) for template in stacks.values())
    return {
        "kms": keys * prices.get("kms", "customer_managed_key_per_month"),
        "alarms": alarms * prices.get("cloudwatch", "standard_alarm_per_month"),
    }


# ---- several models on one endpoint ----------------------------------------------------------


@dataclasses.dataclass
class SharedEndpointCost:
    """A shared endpoint (``Mlops-Endpoint-<name>``) and the inference components on it, against one
    endpoint per model of the same instance type."""

    stack: str
    instance_type: str
    instances: int
    max_instances: int
    components: dict[str, int]  # the component's stack -> copies
    shared_per_month: float
    separate_per_month: float

    @property
    def saving_per_month(self) -> float:
        """What the shared endpoint saves per month against one endpoint per model (negative: costs more)."""
        return self.separate_per_month - self.shared_per_month


def price_shared_endpoints(templates: dict[str, Template], prices: Prices) -> list[SharedEndpointCost]:
    """Every stack holding an endpoint config without a model (instances for inference components),
    priced at max(initial count, managed scaling minimum) instance-hours around the clock, against each of
    its components' models on an endpoint of its own: one instance of the same type (the smallest
    real-time endpoint; more when a model's copies need more)."""
    costs = []
    for stack, template in sorted(templates.items()):
        endpoint_names = {
            str(properties.get("EndpointName"))
            for _, properties in resources(template, "AWS::SageMaker::Endpoint")
        }
        for _, config in resources(template, "AWS::SageMaker::EndpointConfig"):
            variant = (config.get("ProductionVariants") or [{}])[0]
            if "ModelName" in variant or "ServerlessConfig" in variant:
                continue
            scaling = variant.get("ManagedInstanceScaling") or {}
            initial = int(number(variant.get("InitialInstanceCount"), 1))
            instances = max(initial, int(number(scaling.get("MinInstanceCount"), 0)))
            components = {
                other: int(number((properties.get("RuntimeConfig") or {}).get("CopyCount"), 1))
                for other, other_template in sorted(templates.items())
                for _, properties in resources(other_template, "AWS::SageMaker::InferenceComponent")
                if str(properties.get("EndpointName")) in endpoint_names
            }
            instance_type = str(variant.get("InstanceType"))
            rate = prices.get("sagemaker", "realtime_inference_per_instance_hour", instance_type)
            costs.append(
                SharedEndpointCost(
                    stack=stack,
                    instance_type=instance_type,
                    instances=instances,
                    max_instances=int(number(scaling.get("MaxInstanceCount"), instances)),
                    components=components,
                    shared_per_month=instances * rate * prices.hours,
                    separate_per_month=len(components) * rate * prices.hours,
                )
            )
    return costs


def render_shared_endpoints(costs: list[SharedEndpointCost], assembly: Path) -> list[str]:
    """The report's section on shared endpoints (empty when there are none)."""
    if not costs:
        return []
    lines = [
        "",
        "## Several models on one endpoint: USD per month, idle",
        "",
        f"Shared endpoints in `{assembly}`: each runs its instances around the clock at max(initial count, "
        "managed instance scaling minimum); without it, each of its models would need a real-time endpoint "
        "of its own, at least one instance of the same type. Managed instance scaling can add instances "
        "under load (up to its maximum), which both layouts would pay for alike.",
        "",
    ]
    lines += table(
        ["shared endpoint", "instances", "models (copies)", "shared", "one endpoint per model", "saves"],
        [
            [
                cost.stack,
                f"{cost.instances} (up to {cost.max_instances}) x {cost.instance_type}",
                ", ".join(f"{stack} ({copies})" for stack, copies in cost.components.items()),
                usd(cost.shared_per_month),
                f"{len(cost.components)} x 1 x {cost.instance_type}: {usd(cost.separate_per_month)}",
                f"**{usd(cost.saving_per_month)}**",
            ]
            for cost in costs
        ],
    )
    return lines


# ---- report ---------------------------------------------------------------------------------


def usd(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 0.0001:
        return "<0.0001"
    if abs(value) < 0.01:
        return f"{value:.4f}"
    return f"{value:,.2f}"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def render(
    models: list[ModelCost],
    shared: dict[str, float],
    shared_stacks: list[str],
    prices: Prices,
    args: argparse.Namespace,
    assembly: Path,
) -> str:
    idle_rows: list[list[object]] = []
    for cost in models:
        idle_rows.append(
            [
                cost.model,
                ", ".join(f"{e.stack.rsplit('-', 1)[-1].lower()}: {e.describe()}" for e in cost.endpoints),
                usd(cost.idle["endpoints"]),
                usd(cost.idle["alarms"]),
                usd(cost.idle["kms"]),
                usd(cost.idle["scheduled jobs"]),
                usd(cost.idle_total),
            ]
        )
    shared_total = sum(shared.values())
    idle_rows.append(
        [
            f"shared ({', '.join(shared_stacks)})",
            "-",
            "0",
            usd(shared["alarms"]),
            usd(shared["kms"]),
            "0",
            usd(shared_total),
        ]
    )
    idle_total = sum(cost.idle_total for cost in models) + shared_total
    idle_rows.append(
        [
            "**whole app**",
            "",
            usd(sum(c.idle["endpoints"] for c in models)),
            usd(sum(c.idle["alarms"] for c in models) + shared["alarms"]),
            usd(sum(c.idle["kms"] for c in models) + shared["kms"]),
            usd(sum(c.idle["scheduled jobs"] for c in models)),
            f"**{usd(idle_total)}**",
        ]
    )
    run_items = list(models[0].run) if models else []
    run_rows: list[list[object]] = []
    for cost in models:
        transitions = sum(machine.transitions.total for machine in cost.machines)
        run_rows.append(
            [cost.model, transitions]
            + [usd(cost.run[item]) for item in run_items]
            + [f"{usd(cost.run_total)}"]
        )
    run_rows.append(
        ["**whole app** (every model released once)", sum(int(str(row[1])) for row in run_rows)]
        + [usd(sum(cost.run[item] for cost in models)) for item in run_items]
        + [f"**{usd(sum(cost.run_total for cost in models))}**"]
    )
    machine_rows = [
        [
            machine.model,
            machine.name,
            machine.role,
            machine.transitions.path,
            (
                f"{machine.transitions.loop_states} states x {machine.transitions.loop_iterations} "
                f"(wait {machine.transitions.wait_seconds:g} s)"
                if machine.transitions.loop_states
                else "-"
            ),
            machine.transitions.total,
            usd(machine.cost),
        ]
        for cost in models
        for machine in cost.machines
    ]
    releases = args.releases_per_month
    monthly = idle_total + releases * sum(cost.run_total for cost in models)
    lines = [
        "# cdk-mlops: what the example app costs",
        "",
        f"- Templates: `{assembly}` ({len(models)} models). Prices: `{args.prices}`, "
        f"{prices.data.get('region')}, "
        f"{prices.data.get('currency', 'USD')}, dated {prices.data.get('date')}.",
        f"- **Price source:** {prices.data.get('source')}",
        f"- Month = {prices.hours:g} hours. Per-run figures are upper bounds: every SageMaker job is priced "
        "for "
        f"its full max runtime at on-demand rates; CodeBuild {args.build_minutes:g} min per build; every "
        f"endpoint stack update takes {args.update_minutes:g} min plus, for blue/green instance endpoints, "
        "the traffic-shifting waits and the bake time from the template; the smoke-test Lambda runs "
        f"{args.smoke_seconds:g} s once.",
        "",
        "## Idle: USD per month with nobody pushing",
        "",
        "Endpoints count once the first release deployed them (until then the endpoint stacks hold "
        "nothing). Instance endpoints bill instance-hours around the clock, traffic or not, at "
        "max(initial count, autoscaling minimum); serverless endpoints cost nothing idle. Alarms: the "
        "templates' own plus the 2 that each target-tracking scaling policy creates. CodePipeline V2, Step "
        "Functions, CodeBuild, Lambda, SNS and the CodeConnections connection have no fixed fee; log and "
        "artifact storage is usage-dependent and left out (cents at this scale). KMS: 1 USD per key and "
        "month, plus 1 USD for each of the first two yearly rotations (so 3 USD from year three). "
        "Scheduled jobs: the drift checks and scheduled batch transforms the schedules start, one run "
        f"each time (transform jobs assumed to take {args.transform_minutes:g} min).",
        "",
    ]
    lines += table(
        ["model", "endpoints (once deployed)", "endpoints", "alarms", "KMS", "scheduled jobs", "idle total"],
        idle_rows,
    )
    lines += [
        "",
        "## Per release: USD for one pipeline run (upper bound)",
        "",
    ]
    lines += table(["model", "state transitions", *run_items, "per run"], run_rows)
    lines += [
        "",
        f"At {releases:g} releases per model and month: about **{usd(monthly)} USD/month** for the whole app "
        f"({usd(idle_total)} idle + {releases:g} x {usd(sum(cost.run_total for cost in models))}).",
        "",
        "What each run is made of:",
        "",
    ]
    lines += [f"- {cost.model}: {'; '.join(cost.run_notes)}" for cost in models]
    lines += [
        "",
        "## Step Functions state transitions per successful execution",
        "",
        "Counted from each definition: the shortest path from StartAt to a Succeed state without Catch "
        "edges, plus the extra rounds of the stack-polling loop for the assumed update time. A standard "
        "workflow bills every state entered (retries would add more); `.sync` SageMaker jobs wait "
        "without transitions.",
        "",
    ]
    lines += table(
        ["model", "state machine", "role", "states on path", "polling loop", "transitions", "USD"],
        machine_rows,
    )
    if prices.missing:
        lines += ["", "**Missing prices (counted as 0):** " + ", ".join(sorted(prices.missing))]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "assembly", nargs="?", type=Path, default=Path("cdk.out"), help="cloud assembly folder"
    )
    parser.add_argument("--prices", type=Path, default=REPO_ROOT / "bench" / "prices.json")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "cost.md")
    parser.add_argument("--build-minutes", type=float, default=5.0, help="minutes per CodeBuild run (5)")
    parser.add_argument(
        "--update-minutes", type=float, default=10.0, help="minutes per endpoint stack update (10)"
    )
    parser.add_argument("--smoke-seconds", type=float, default=10.0, help="smoke-test Lambda duration (10)")
    parser.add_argument(
        "--transform-minutes", type=float, default=30.0, help="minutes per batch transform job (30)"
    )
    parser.add_argument("--releases-per-month", type=float, default=4.0, help="for the monthly estimate (4)")
    parser.add_argument(
        "--shared-endpoints",
        type=Path,
        default=None,
        help="another cloud assembly (e.g. of examples/) whose shared endpoints are priced against one "
        "endpoint per model (default: only the main assembly's)",
    )
    args = parser.parse_args(argv)

    if not args.assembly.exists():
        print(f"{args.assembly} does not exist: synthesizing the example app into it", file=sys.stderr)
        synthesize_example_app(args.assembly)
    templates = load_templates(args.assembly)
    if not templates:
        raise SystemExit(f"error: no templates in {args.assembly}")
    prices = Prices(json.loads(args.prices.read_text(encoding="utf-8")))

    by_model: dict[str, dict[str, Template]] = collections.defaultdict(dict)
    names: dict[str, dict[str, str]] = collections.defaultdict(dict)
    shared: dict[str, Template] = {}
    for name, template in templates.items():
        match = MODEL_STACK.match(name)
        if match:
            by_model[match["model"]][match["kind"]] = template
            names[match["model"]][match["kind"]] = name
        else:
            shared[name] = template
    models = [price_model(model, by_model[model], names[model], prices, args) for model in sorted(by_model)]
    report = render(models, price_shared(shared, prices), sorted(shared), prices, args, args.assembly)
    shared_assembly = args.shared_endpoints or args.assembly
    shared_templates = templates if args.shared_endpoints is None else load_templates(args.shared_endpoints)
    section = render_shared_endpoints(price_shared_endpoints(shared_templates, prices), shared_assembly)
    if section:
        report += "\n".join(section) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
