"""The plan of an app: every model file read and checked, before (and without) the CDK runtime.

``plan_models(models_dir)`` parses every ``<models_dir>/<name>/model.yaml``, applies the rules that
span fields and files (duplicate names, the files a model references, its folder, instance types
SageMaker publishes, a built-in algorithm's required hyperparameters, regions, container images,
where the production endpoint goes) and returns every problem at once in a ``Plan``, with the stack
names and placement of each model. It imports neither ``aws_cdk`` nor jsii, so ``cdk-mlops validate``
and the CLI's model-name checks answer in about a second; ``build_app`` consumes the same plan and
refuses to create a stack while it has errors.

Every problem names the file, the field and the value received (``<field>: <reason> (got <value>)``).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cdk_mlops.config.loader import (
    MODEL_FILE_NAME,
    ModelConfigError,
    did_you_mean,
    find_model_files,
    parse_model_config,
    read_model_data,
)
from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.images import ImageLookupError, resolve_image_uri

#: The pipeline's region when neither ``region`` nor ``CDK_DEFAULT_REGION`` gives one.
DEFAULT_REGION = "eu-west-1"
#: Every stack name starts with it: ``Mlops-Platform``, ``Mlops-<model>-Pipeline``, ...
STACK_PREFIX = "Mlops"

#: botocore's SageMaker shape listing the instance types of each kind of job or host.
TRAINING_INSTANCES = "TrainingInstanceType"
PROCESSING_INSTANCES = "ProcessingInstanceType"
TRANSFORM_INSTANCES = "TransformInstanceType"
HOSTING_INSTANCES = "ProductionVariantInstanceType"
_INSTANCE_KINDS = {
    TRAINING_INSTANCES: "training",
    PROCESSING_INSTANCES: "processing",
    TRANSFORM_INSTANCES: "batch transform",
    HOSTING_INSTANCES: "endpoint (hosting)",
}

#: The built-in XGBoost algorithm's objectives that also need ``num_class`` (its container refuses
#: them otherwise: aws/sagemaker-xgboost-container, ``algorithm_mode/hyperparameter_validation.py``).
_MULTICLASS_OBJECTIVES = ("multi:softmax", "multi:softprob")


def stack_names(model_name: str) -> dict[str, str]:
    """The stack names of a model: ``Mlops-<model>-Pipeline``, ``-Staging`` and ``-Production``."""
    return {stage: f"{STACK_PREFIX}-{model_name}-{stage}" for stage in ("Pipeline", "Staging", "Production")}


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a model's production endpoint stack goes: ``account`` (None: the pipeline's) and ``region``."""

    account: str | None
    region: str
    pipeline_region: str

    @property
    def other_region(self) -> bool:
        """True when production runs outside the pipeline's region."""
        return self.region != self.pipeline_region

    @property
    def platform_key(self) -> str | None:
        """What follows ``Mlops-Platform-`` in the name of the platform stack of the endpoint's
        environment, None for the pipeline's own platform."""
        parts = [part for part in (self.account, self.region if self.other_region else None) if part]
        return "-".join(parts) or None


@dataclasses.dataclass(frozen=True)
class Problem:
    """One error or warning: the file (or models folder) it is about and ``<field>: <reason> (got <value>)``."""

    path: Path
    text: str

    @property
    def field(self) -> str:
        """The dotted field the problem is about (``<file>`` for the file as a whole)."""
        return self.text.partition(":")[0]

    def __str__(self) -> str:
        return f"{self.path}: {self.text}"


@dataclasses.dataclass
class ModelPlan:
    """One model file that parsed: its config, stack names, production placement (None while the
    placement has an error) and training image (None when it could not be resolved)."""

    path: Path
    config: ModelConfig
    stack_names: dict[str, str]
    placement: Placement | None = None
    training_image: str | None = None

    @property
    def name(self) -> str:
        """The model's ``name``."""
        return self.config.name


@dataclasses.dataclass
class Plan:
    """What ``plan_models`` found: the models that parsed (by name), every error and every warning,
    in file order. ``files`` lists every model file, ``region``/``account`` the pipeline's."""

    models_dir: Path
    region: str
    account: str | None
    files: list[Path] = dataclasses.field(default_factory=list)
    models: dict[str, ModelPlan] = dataclasses.field(default_factory=dict)
    errors: list[Problem] = dataclasses.field(default_factory=list)
    warnings: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The names of the models that parsed, sorted."""
        return sorted(self.models)

    def errors_of(self, path: Path) -> list[Problem]:
        """The errors about one file."""
        return [problem for problem in self.errors if problem.path == path]

    def warnings_of(self, path: Path) -> list[Problem]:
        """The warnings about one file."""
        return [problem for problem in self.warnings if problem.path == path]

    def raise_for_errors(self) -> None:
        """Raises ``ModelConfigError`` for the first file with errors (its ``path`` and ``problems``),
        whose message also lists the errors of every other file; does nothing without errors."""
        if not self.errors:
            return
        by_path: dict[Path, list[str]] = {}
        for problem in self.errors:
            by_path.setdefault(problem.path, []).append(problem.text)
        (first, problems), *others = by_path.items()
        error = ModelConfigError(first, problems)
        if others:
            more = [str(ModelConfigError(path, texts)) for path, texts in others]
            error.args = ("\n".join([str(error), *more]),)
        raise error


# ---- what the installed botocore and SDK know ---------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _sagemaker_model() -> Any:
    import botocore.session  # deferred: about 0.2 s, and only the plan needs it

    return botocore.session.get_session().get_service_model("sagemaker")


@functools.lru_cache(maxsize=8)
def instance_types(shape: str) -> frozenset[str]:
    """The instance types SageMaker publishes for ``shape`` (``TrainingInstanceType``,
    ``ProcessingInstanceType``, ``TransformInstanceType``, ``ProductionVariantInstanceType``), from the
    installed botocore's service model."""
    return frozenset(_sagemaker_model().shape_for(shape).enum)


@functools.lru_cache(maxsize=1)
def known_regions() -> tuple[str, ...]:
    """Every region botocore's endpoint data lists for SageMaker, in every partition, sorted."""
    import botocore.session

    session = botocore.session.get_session()
    regions = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("sagemaker", partition_name=partition)
    }
    return tuple(sorted(regions))


def _region_problem(field: str, region: str) -> str | None:
    if region in known_regions():
        return None
    regions = known_regions()
    closest = sorted(difflib.get_close_matches(region, regions, n=6, cutoff=0.4)) or list(regions[:6])
    return (
        f"{field}: is not a region SageMaker is offered in{did_you_mean(region, regions)} (known regions "
        f"closest to it: {', '.join(closest)}; {len(regions)} in all, from botocore's endpoint data) (got {region!r})"
    )


# ---- the checks of one model ----------------------------------------------------------------------------


def _is_configuration_only(folder: Path) -> bool:
    """A folder holding nothing but ``model.yaml`` (dot-files aside), such as those of ``examples/``:
    a configuration to copy, with no code to check yet."""
    return all(child.name == MODEL_FILE_NAME or child.name.startswith(".") for child in folder.iterdir())


def folder_problems(path: Path, config: ModelConfig) -> list[str]:
    """The problems of the model's folder (``path`` is its model.yaml): its name must be ``name``,
    ``source.path`` must end at it, and every ``src/`` file the config names must exist there. Each is
    ``<field>: <reason> (got <value>)``; ``cdk-mlops run``'s pre-flight reuses them."""
    folder = path.parent
    problems = []
    if folder.name != config.name:
        problems.append(
            f"name: must be the name of the model's folder {folder.name!r} (stacks, dry runs and source.path "
            f"find the model by it); rename one of them (got {config.name!r})"
        )
    source_path = config.source.path
    if source_path is not None:
        parts = Path(source_path.strip("/")).parts
        if not parts or folder.resolve().parts[-len(parts) :] != parts:
            problems.append(
                f"source.path: must be this model's folder relative to the repository root (it ends in "
                f"{folder.name!r}, e.g. 'models/{folder.name}'): the pipeline builds that folder and only pushes "
                f"under it start the pipeline, so another path never builds {folder} (got {source_path!r})"
            )
    scripts: list[tuple[str, str]] = []
    if config.training.entry_point is not None:
        scripts.append(("training.entry_point", config.training.entry_point))
    if config.preprocessing is not None:
        scripts.append(("preprocessing.script", config.preprocessing.script))
    if config.evaluation.job is not None:
        scripts.append(("evaluation.job.script", config.evaluation.job.script))
    if config.drift is not None:
        scripts.append(("drift.script", config.drift.script))
    for field, script in scripts:
        if not (folder / "src" / script).is_file():
            elsewhere = " (it is in the model's folder: move it into src/)" if (folder / script).is_file() else ""
            problems.append(
                f"{field}: no file src/{script} in {folder}: the build uploads src/ as the job's code"
                f"{elsewhere} (got {script!r})"
            )
    return problems


def _pipeline_class_problems(path: Path, reference: str | None) -> list[str]:
    """``pipeline_class: <file>.py:<ClassName>``: the file exists, is Python, and defines the class
    (read with ``ast``, not imported: the module imports the CDK)."""
    if reference is None:
        return []
    file_name, _, class_name = reference.partition(":")
    module_path = path.parent / file_name
    wanted = f"(got {reference!r})"
    if not class_name or not file_name.endswith(".py"):
        return [f"pipeline_class: must be '<file>.py:<ClassName>' {wanted}"]
    if not module_path.is_file():
        return [f"pipeline_class: no file {module_path} {wanted}"]
    try:
        tree = ast.parse(module_path.read_text(encoding="utf-8"), filename=str(module_path))
    except (SyntaxError, ValueError, UnicodeDecodeError) as error:
        return [f"pipeline_class: {module_path} failed to import: {type(error).__name__}: {error} {wanted}"]
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    if class_name not in classes:
        defined = ", ".join(classes) or "none"
        return [
            f"pipeline_class: no class {class_name} in {module_path}{did_you_mean(class_name, classes)} "
            f"(classes there: {defined}) {wanted}"
        ]
    return []


def _instance_fields(config: ModelConfig) -> Iterable[tuple[str, str, str]]:
    """``(field, instance type, botocore shape)`` of every instance the model runs."""
    yield "training.instance_type", config.training.instance_type, TRAINING_INSTANCES
    if config.preprocessing is not None:
        yield "preprocessing.instance_type", config.preprocessing.instance_type, PROCESSING_INSTANCES
    if config.evaluation.job is not None:
        yield "evaluation.job.instance_type", config.evaluation.job.instance_type, PROCESSING_INSTANCES
    if config.drift is not None:
        yield "drift.instance_type", config.drift.instance_type, PROCESSING_INSTANCES
    if config.inference == "batch":
        yield "batch.instance_type", config.batch_settings.instance_type, TRANSFORM_INSTANCES
        return
    for stage in ("staging", "production"):
        variant = getattr(config.endpoints, stage)
        if not variant.serverless:
            yield f"endpoints.{stage}.instance_type", variant.instance_type, HOSTING_INSTANCES


def _instance_problems(config: ModelConfig) -> list[str]:
    problems = []
    for field, instance_type, shape in _instance_fields(config):
        known = instance_types(shape)
        if instance_type not in known:
            problems.append(
                f"{field}: is not a SageMaker {_INSTANCE_KINDS[shape]} instance type (botocore's {shape})"
                f"{did_you_mean(instance_type, sorted(known))} (got {instance_type!r})"
            )
    return problems


def _hyperparameter_problems(config: ModelConfig) -> list[str]:
    """The built-in XGBoost algorithm (framework xgboost, no entry_point) refuses a job without
    ``num_round`` (an integer >= 1), and a multi-class objective without ``num_class`` (>= 2)."""
    if config.framework.name != "xgboost" or config.training.entry_point is not None:
        return []
    hyperparameters = config.training.hyperparameters
    field = "training.hyperparameters"
    problems = []
    rounds = hyperparameters.get("num_round")
    if rounds is None:
        problems.append(
            f"{field}.num_round: is required by SageMaker's built-in XGBoost algorithm (the number of boosting "
            f"rounds, e.g. 100) (got {dict(hyperparameters)!r})"
        )
    elif not _is_integer_at_least(rounds, 1):
        problems.append(f"{field}.num_round: must be an integer of at least 1 (got {rounds!r})")
    objective = hyperparameters.get("objective")
    classes = hyperparameters.get("num_class")
    if objective in _MULTICLASS_OBJECTIVES and classes is None:
        problems.append(
            f"{field}.num_class: is required by the built-in XGBoost algorithm with objective {objective} "
            f"(the number of classes, at least 2) (got {dict(hyperparameters)!r})"
        )
    elif classes is not None and not _is_integer_at_least(classes, 2):
        problems.append(f"{field}.num_class: must be an integer of at least 2 (got {classes!r})")
    return problems


def _is_integer_at_least(value: Any, low: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            return False
        value = int(value)
    return isinstance(value, int) and value >= low


def _placement(config: ModelConfig, region: str, account: str | None) -> tuple[Placement | None, list[str]]:
    """Where ``config``'s production endpoint goes, after checking that staging stays in the pipeline's
    region, that a production account is not the pipeline's own, and that a production region is a
    known one with the model's serving image and no drift check."""
    staging_region = config.endpoints.staging.region
    if staging_region is not None and staging_region != region:
        return None, [
            f"endpoints.staging.region: staging runs in the pipeline's region ({region}), where the smoke "
            f"test invokes it; only endpoints.production.region may name another (got {staging_region!r})"
        ]
    target = config.endpoints.production.account
    if target is not None and target == account:
        return None, [
            f"endpoints.production.account: is the pipeline's own account; leave it out to deploy "
            f"production next to the pipeline (got {target!r})"
        ]
    placement = Placement(target, config.endpoints.production.region or region, region)
    problems = _other_region_problems(config, placement.region) if placement.other_region else []
    return (None if problems else placement), problems


def _other_region_problems(config: ModelConfig, target_region: str) -> list[str]:
    wanted = f"(got {target_region!r})"
    unknown = _region_problem("endpoints.production.region", target_region)
    if unknown is not None:
        return [unknown]
    if config.drift is not None:
        return [
            f"drift: is not available with a production endpoint in another region (endpoints.production.region "
            f"{target_region}): the drift check runs in the pipeline's region and reads captured inputs there"
        ]
    image = config.framework.image_uri
    if image is not None and f".{target_region}." not in image:
        return [
            f"endpoints.production.region: the endpoint would pull framework.image_uri {image}, which is not "
            f"in {target_region}: SageMaker hosts images from the endpoint's region only; replicate the "
            f"repository there (ECR cross-region replication) and use a framework image, or keep production "
            f"in the pipeline's region {wanted}"
        ]
    try:
        resolve_image_uri(config.framework, target_region, config.endpoints.production.instance_type, "inference")
    except ImageLookupError as error:
        return [f"endpoints.production.region: {error} {wanted}"]
    return []


def _model_problems(model: ModelPlan, region: str, account: str | None, region_ok: bool) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` of one parsed model; fills in its placement and training image."""
    path, config = model.path, model.config
    errors = _pipeline_class_problems(path, config.pipeline_class)
    errors += _instance_problems(config)
    errors += _hyperparameter_problems(config)
    warnings = []
    in_folder = folder_problems(path, config)
    if _is_configuration_only(path.parent):
        warnings += [
            f"{text} [a warning while the folder holds only {MODEL_FILE_NAME}, an error once it has code]"
            for text in in_folder
        ]
    else:
        errors += in_folder
    if region_ok:
        try:
            model.training_image = resolve_image_uri(config.framework, region, config.training.instance_type)
        except ImageLookupError as error:
            errors.append(f"framework.version: {error} (got {config.framework.version!r})")
        model.placement, placement_problems = _placement(config, region, account)
        errors += placement_problems
    if config.notification_email is None:
        what = "approval requests and failures" if config.inference == "batch" else "approvals, failures and alarms"
        warnings.append(
            f"notification_email: is not set: the model's SNS topic ({what}) has no subscriber, so nobody is "
            "told; set it, or subscribe to the topic yourself (got None)"
        )
    return errors, warnings


# ---- the plan -----------------------------------------------------------------------------------------------


def plan_models(
    models_dir: Path | str,
    *,
    only: Sequence[str] | None = None,
    region: str | None = None,
    account: str | None = None,
) -> Plan:
    """Reads and checks every ``<models_dir>/*/model.yaml`` (see the module docstring); never raises for
    a problem of the models, it lists them in ``Plan.errors``. ``only`` names the models the caller will
    build (an unknown name is an error; every file is still checked). Region: ``region``, else
    ``CDK_DEFAULT_REGION``, else eu-west-1; account: ``account``, else ``CDK_DEFAULT_ACCOUNT``, else none."""
    models_dir = Path(models_dir)
    region_field = "region" if region else "region (CDK_DEFAULT_REGION)"
    region = region or os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    account = account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    plan = Plan(models_dir, region, account, files=find_model_files(models_dir))
    unknown_region = _region_problem(region_field, region)
    if unknown_region is not None:
        plan.errors.append(Problem(models_dir, unknown_region))
    owners: dict[str, Path] = {}
    for path in plan.files:
        try:
            config = parse_model_config(read_model_data(path), path)
        except ModelConfigError as error:
            plan.errors += [Problem(path, text) for text in error.problems]
            continue
        if config.name in owners:
            plan.errors.append(
                Problem(
                    path,
                    f"name: model {config.name!r} is already defined in {owners[config.name]} (got {config.name!r})",
                )
            )
            continue
        owners[config.name] = path
        model = ModelPlan(path, config, stack_names(config.name))
        errors, warnings = _model_problems(model, region, account, unknown_region is None)
        plan.errors += [Problem(path, text) for text in errors]
        plan.warnings += [Problem(path, text) for text in warnings]
        plan.models[config.name] = model
    if only is not None:
        missing = sorted(set(only) - set(plan.models))
        if missing:
            known = ", ".join(plan.names)
            plan.errors.append(Problem(models_dir, f"models: no model named {', '.join(missing)} (known: {known})"))
    return plan
