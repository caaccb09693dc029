"""The schema of ``models/<name>/model.yaml``: one file per model, validated before any construct exists.

Every field has a documented default except the model's name and its framework; the values are frozen
pydantic models so the constructs can take them as typed, immutable props.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
MODEL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
CONNECTION_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$"
)
SHARED_ENDPOINT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
METRIC_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_:.\-/]{1,255}$")

#: Frameworks whose container images we look up with the SageMaker SDK. Anything else needs ``image_uri``.
SUPPORTED_FRAMEWORKS = ("xgboost", "sklearn", "pytorch", "tensorflow")


class FieldError(ValueError):
    """A validation failure of one named field, raised from a cross-field check.

    The loader reports ``field`` under the section being validated and ``value`` as received.
    """

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class _Frozen(BaseModel):
    # The docstring under each field is its description (in the JSON Schema: ``cdk-mlops schema``).
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def _check_instance_type(value: str) -> str:
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise ValueError("must be a SageMaker instance type of the form 'ml.<family>.<size>', e.g. 'ml.m5.large'")
    return value


def _check_threshold_is_number(value: Any) -> Any:
    # Before pydantic's coercion, which would take True as 1 and "0.8" as 0.8.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("threshold must be a number")
    return value


InstanceType = Annotated[str, Field(description="SageMaker instance type, e.g. ml.m5.large")]


class SourceProvider(str, enum.Enum):
    """Where the model's code lives."""

    CODECONNECTIONS = "codeconnections"
    CODECOMMIT = "codecommit"
    S3 = "s3"


class SourceConfig(_Frozen):
    """The repository a ``git push`` to starts the pipeline.

    Default provider: CodeConnections (GitHub, GitLab, Bitbucket), which needs ``connection_arn`` and
    ``repository`` (``owner/repo``). ``path`` is the model's folder in a monorepo: only pushes touching
    it start this model's pipeline (default: the whole repository). ``branch`` defaults to ``main``.
    CodeCommit takes ``repository`` as a repository name (created when ``create_repository`` is true);
    S3 takes ``bucket`` and ``object_key`` of a zip of the model folder.
    """

    provider: SourceProvider = SourceProvider.CODECONNECTIONS
    """Where the model's code lives: codeconnections (GitHub, GitLab, Bitbucket; default), codecommit or s3."""
    connection_arn: str | None = None
    """The CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>). Required for
    codeconnections. Default: none.
    """
    repository: str | None = None
    """'owner/repo' for codeconnections, a CodeCommit repository name for codecommit. Default: none."""
    branch: str = "main"
    """The branch whose pushes start the pipeline. Default: main."""
    path: str | None = None
    """The model's folder relative to the repository root (e.g. models/churn-xgb): the build runs there and only pushes
    touching it start this pipeline. Must end in the model's folder. Default: the whole repository.
    """
    create_repository: bool = False
    """CodeCommit only: create the repository in the pipeline stack instead of using an existing one. Default: false."""
    bucket: str | None = None
    """S3 provider: the versioned bucket holding the zipped model folder. Default: none."""
    object_key: str | None = None
    """S3 provider: the key of the zip of the model folder in bucket. Default: none."""

    @model_validator(mode="after")
    def _provider_fields(self) -> SourceConfig:
        if self.provider is SourceProvider.CODECONNECTIONS:
            if not self.connection_arn:
                raise FieldError(
                    "connection_arn",
                    self.connection_arn,
                    "is required for the codeconnections provider "
                    "(arn:aws:codeconnections:<region>:<account>:connection/<id>)",
                )
            if not CONNECTION_ARN_PATTERN.match(self.connection_arn):
                raise FieldError("connection_arn", self.connection_arn, "is not a CodeConnections connection ARN")
            if not self.repository or not re.match(r"^[\w.-]+/[\w.-]+$", self.repository):
                raise FieldError("repository", self.repository, "must be 'owner/repo' for codeconnections")
        elif self.provider is SourceProvider.CODECOMMIT:
            if not self.repository or not re.match(r"^[\w.-]{1,100}$", self.repository):
                raise FieldError("repository", self.repository, "must be a CodeCommit repository name")
        elif not self.bucket or not self.object_key:
            missing = "bucket" if not self.bucket else "object_key"
            raise FieldError(missing, getattr(self, missing), "is required for the s3 provider")
        return self


class FrameworkConfig(_Frozen):
    """The training/inference container: a framework the SageMaker SDK knows, or your own image.

    ``name`` is one of xgboost, sklearn, pytorch, tensorflow, or ``custom`` with ``image_uri``.
    ``version`` is the framework version (e.g. ``1.7-1`` for xgboost). ``py_version`` defaults to
    ``py3``.
    """

    name: str
    """xgboost, sklearn, pytorch or tensorflow (images looked up in the SageMaker SDK's catalogue), or custom with
    image_uri. Required.
    """
    version: str | None = None
    """The framework version as SageMaker names its images, e.g. 1.7-1 for xgboost, 1.2-1 for sklearn. Required unless
    image_uri is set.
    """
    py_version: str = "py3"
    """The Python version tag of the framework image, e.g. py310. Default: py3."""
    image_uri: str | None = None
    """An ECR image URI to train and serve with instead of the framework's image. Required for name: custom. Default:
    none.
    """

    @model_validator(mode="after")
    def _known_framework(self) -> FrameworkConfig:
        if self.name == "custom":
            if not self.image_uri:
                raise FieldError("image_uri", self.image_uri, "is required when framework name is 'custom'")
            return self
        if self.name not in SUPPORTED_FRAMEWORKS:
            raise FieldError(
                "name",
                self.name,
                f"unknown framework; expected one of {', '.join(SUPPORTED_FRAMEWORKS)} or 'custom'",
            )
        if not self.version and not self.image_uri:
            raise FieldError("version", self.version, f"is required for framework {self.name!r}")
        return self


class ProcessingConfig(_Frozen):
    """A processing job (preprocessing or evaluation) running a script from the model's ``src`` folder.

    Defaults: one ``ml.m5.large``, 30 GiB volume, 1 hour max runtime. ``image_uri`` defaults to the
    model framework's image.
    """

    script: str
    """The script in the model's src/ folder the processing job runs, e.g. preprocess.py. Required."""
    instance_type: str = "ml.m5.large"
    """The processing instance type (SageMaker's ProcessingInstanceType list). Default: ml.m5.large."""
    instance_count: int = Field(default=1, ge=1, le=100)
    """Number of processing instances, 1 to 100. Default: 1."""
    volume_size_gib: int = Field(default=30, ge=1, le=16384)
    """Size of each instance's encrypted EBS volume, in GiB (1 to 16384). Default: 30."""
    max_runtime_minutes: int = Field(default=60, ge=1, le=5 * 24 * 60)
    """StoppingCondition.MaxRuntimeInSeconds, in minutes (1 to 7200). Default: 60."""
    image_uri: str | None = None
    """The processing container image. Default: the model framework's image."""

    _instance = field_validator("instance_type")(_check_instance_type)


TuningStrategy = Literal["Bayesian", "Random", "Hyperband", "Grid"]
ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
#: The static hyperparameters from which SageMaker's Hyperband infers MaxResource when it is not given
#: (HyperbandStrategyConfig, SageMaker API reference).
HYPERBAND_RESOURCE_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
#: Most hyperparameters one tuning job may search (ParameterRanges, SageMaker API reference).
MAX_TUNED_HYPERPARAMETERS = 30
#: Training jobs a tuning job runs when training.tuning.max_jobs is left out (Bayesian, Random, Hyperband).
DEFAULT_TUNING_JOBS = 10


class ParameterRangeConfig(_Frozen):
    """One tuned hyperparameter: ``{min, max, scaling}`` for a numeric range (integer when both bounds
    are integers, continuous otherwise) or ``{values: [...]}`` for a categorical one."""

    min: int | float | None = None
    """Numeric ranges: the lowest value (MinValue). Integer range when min and max are both integers. Default: none."""
    max: int | float | None = None
    """Numeric ranges: the highest value (MaxValue), greater than min. Default: none."""
    scaling: ScalingType = "Auto"
    """Numeric ranges: how values are searched: Auto (default), Linear, Logarithmic (min > 0) or ReverseLogarithmic
    (continuous only, 0 <= min < max < 1).
    """
    values: tuple[str | int | float | bool, ...] | None = Field(default=None, min_length=1, max_length=30)
    """Categorical ranges: the values to try (1 to 30). Default: none (a numeric range)."""

    @property
    def kind(self) -> Literal["Integer", "Continuous", "Categorical"]:
        """The SageMaker range kind: ``Categorical`` with ``values``, ``Integer`` when both bounds are
        integers, ``Continuous`` otherwise."""
        if self.values is not None:
            return "Categorical"
        bounds = (self.min, self.max)
        if all(isinstance(bound, int) and not isinstance(bound, bool) for bound in bounds):
            return "Integer"
        return "Continuous"

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterRangeConfig:
        numeric = self.min is not None or self.max is not None
        if self.values is not None:
            if numeric:
                raise FieldError("values", list(self.values), "a range is either {min, max} or {values}, not both")
            if "scaling" in self.model_fields_set:
                raise FieldError("scaling", self.scaling, "applies to numeric ranges only, not to values")
            return self
        if self.min is None or self.max is None:
            raise FieldError("min" if self.min is None else "max", None, "a numeric range needs both min and max")
        if isinstance(self.min, bool) or isinstance(self.max, bool):
            raise FieldError("min", self.min, "numeric bounds must be numbers, not true/false")
        if self.min >= self.max:
            raise FieldError("max", self.max, f"must be greater than min ({self.min})")
        if self.scaling == "Logarithmic" and self.min <= 0:
            raise FieldError("scaling", self.scaling, f"Logarithmic scaling needs min > 0 (min is {self.min})")
        if self.scaling == "ReverseLogarithmic":
            if self.kind == "Integer":
                raise FieldError("scaling", self.scaling, "ReverseLogarithmic applies to continuous ranges only")
            if self.min < 0 or self.max >= 1:
                raise FieldError(
                    "scaling",
                    self.scaling,
                    f"ReverseLogarithmic scaling needs 0 <= min and max < 1 (range {self.min} to {self.max})",
                )
        return self


class TuningConfig(_Frozen):
    """A SageMaker hyperparameter tuning job instead of one training job; the best training job (by
    ``objective_metric``) goes on to evaluation, the quality gate and registration.

    Defaults: Bayesian search, Maximize, 10 training jobs one at a time, no early stopping. The rules
    are SageMaker's (CreateHyperParameterTuningJob): Grid searches categorical ranges only and computes
    its own number of jobs (no max_jobs); Hyperband stops jobs itself (no early_stopping) and needs
    max_resource unless a static epochs hyperparameter gives it; early stopping is for Bayesian and
    Random only.
    """

    objective_metric: str
    """The metric the tuning job optimizes: a training.metric_definitions name in script mode, a built-in XGBoost
    metric (e.g. validation:auc) otherwise. Required.
    """
    type: Literal["Maximize", "Minimize"] = "Maximize"
    """Maximize (default) or Minimize the objective metric (e.g. Minimize validation:rmse)."""
    strategy: TuningStrategy = "Bayesian"
    """The search strategy: Bayesian (default), Random, Hyperband or Grid (categorical ranges only)."""
    max_jobs: int | None = Field(default=None, ge=1, le=750)
    """ResourceLimits.MaxNumberOfTrainingJobs. Default: 10; not allowed with Grid (SageMaker counts the grid)."""
    max_parallel_jobs: int = Field(default=1, ge=1, le=100)
    """ResourceLimits.MaxParallelTrainingJobs, at most max_jobs. Default: 1."""
    early_stopping: bool = False
    """TrainingJobEarlyStoppingType Auto: SageMaker stops jobs unlikely to beat the best (Bayesian and Random only).
    Default: false (Off).
    """
    min_resource: int | None = Field(default=None, ge=1)
    """Hyperband only: HyperbandStrategyConfig.MinResource (e.g. epochs) before a job may be stopped. Default: none
    (SageMaker's).
    """
    max_resource: int | None = Field(default=None, ge=1, le=20000)
    """Hyperband only: HyperbandStrategyConfig.MaxResource (e.g. epochs) a job may use. Default: inferred by SageMaker
    from a static epochs hyperparameter, required otherwise.
    """
    ranges: dict[str, ParameterRangeConfig]
    """Hyperparameter name -> {min, max, scaling} or {values: [...]}, 1 to 30 of them; a tuned name replaces its fixed
    value in training.hyperparameters. Required.
    """

    @field_validator("objective_metric")
    @classmethod
    def _metric_name(cls, value: str) -> str:
        if not METRIC_NAME_PATTERN.match(value):
            raise ValueError(f"metric names use letters, digits and _:.-/ (got {value!r})")
        return value

    @property
    def max_training_jobs(self) -> int | None:
        """``max_jobs``, or its default (10) for every strategy but Grid (None: SageMaker counts the grid)."""
        if self.strategy == "Grid":
            return None
        return self.max_jobs if self.max_jobs is not None else DEFAULT_TUNING_JOBS

    @property
    def grid_size(self) -> int:
        """The number of combinations of the categorical ranges (the jobs a Grid search runs)."""
        size = 1
        for parameter in self.ranges.values():
            size *= len(parameter.values or ())
        return size

    @model_validator(mode="after")
    def _sagemaker_rules(self) -> TuningConfig:
        if not self.ranges:
            raise FieldError("ranges", {}, "needs at least one hyperparameter to tune")
        if len(self.ranges) > MAX_TUNED_HYPERPARAMETERS:
            raise FieldError(
                "ranges", sorted(self.ranges), f"SageMaker tunes at most {MAX_TUNED_HYPERPARAMETERS} hyperparameters"
            )
        if self.early_stopping and self.strategy not in ("Bayesian", "Random"):
            raise FieldError(
                "early_stopping",
                True,
                f"applies to the Bayesian and Random strategies only (strategy is {self.strategy}"
                + ("; Hyperband stops jobs itself)" if self.strategy == "Hyperband" else ")"),
            )
        if self.strategy != "Hyperband":
            for name in ("min_resource", "max_resource"):
                value = getattr(self, name)
                if value is not None:
                    raise FieldError(name, value, f"applies to Hyperband only (strategy is {self.strategy})")
        elif self.min_resource is not None and self.max_resource is not None and self.min_resource > self.max_resource:
            raise FieldError("min_resource", self.min_resource, f"must be at most max_resource ({self.max_resource})")
        if self.strategy == "Grid":
            if self.max_jobs is not None:
                raise FieldError(
                    "max_jobs",
                    self.max_jobs,
                    f"is not allowed with Grid: SageMaker runs every combination ({self.grid_size} here)",
                )
            for name, parameter in self.ranges.items():
                if parameter.kind != "Categorical":
                    raise FieldError(
                        f"ranges.{name}",
                        parameter.model_dump(exclude_defaults=True),
                        "Grid searches categorical ranges only ({values: [...]}); use Random or Bayesian for numeric "
                        "ranges",
                    )
        limit = self.max_training_jobs or self.grid_size
        if self.max_parallel_jobs > limit:
            raise FieldError(
                "max_parallel_jobs", self.max_parallel_jobs, f"must be at most the number of training jobs ({limit})"
            )
        return self


class TrainingConfig(_Frozen):
    """The training job.

    Defaults: one ``ml.m5.xlarge``, 30 GiB encrypted volume, 2 hours max runtime, on-demand capacity.
    ``spot: true`` turns on managed spot training with checkpoints in the artifact bucket;
    ``max_wait_minutes`` (default: twice the max runtime) bounds the wait for spot capacity.
    ``entry_point`` runs a script from ``src/`` (script mode); leave it out for built-in algorithms.
    ``metric_definitions`` maps metric names to log regexes for script mode.
    """

    instance_type: str = "ml.m5.xlarge"
    """The training instance type (SageMaker's TrainingInstanceType list). Default: ml.m5.xlarge."""
    instance_count: int = Field(default=1, ge=1, le=100)
    """Number of training instances, 1 to 100. Default: 1."""
    volume_size_gib: int = Field(default=30, ge=1, le=16384)
    """Size of each training instance's encrypted EBS volume, in GiB (1 to 16384). Default: 30."""
    max_runtime_minutes: int = Field(default=120, ge=1, le=28 * 24 * 60)
    """StoppingCondition.MaxRuntimeInSeconds, in minutes (1 to 40320): SageMaker stops the job after it. Default: 120.
    """
    spot: bool = False
    """Managed spot training, with checkpoints in the artifact bucket. Default: false (on-demand)."""
    max_wait_minutes: int | None = Field(default=None, ge=1, le=28 * 24 * 60)
    """Spot only: StoppingCondition.MaxWaitTimeInSeconds in minutes, at least max_runtime_minutes. Default: twice
    max_runtime_minutes.
    """
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Passed to the training job as HyperParameters (strings). The built-in XGBoost algorithm needs num_round (and
    num_class for multi:softmax/softprob). Default: none.
    """
    entry_point: str | None = None
    """Script mode: the training script in the model's src/ folder (e.g. train.py). Leave out for a built-in algorithm
    (xgboost). Required for sklearn, pytorch, tensorflow.
    """
    metric_definitions: dict[str, str] = Field(default_factory=dict)
    """Script mode: metric name -> regex on the training log (SageMaker MetricDefinitions); a training-metrics quality
    gate reads these. Default: none.
    """
    network_isolation: bool = False
    """EnableNetworkIsolation: the training container gets no network access. Default: false."""
    inter_container_encryption: bool = False
    """EnableInterContainerTrafficEncryption between training instances. Default: false."""
    tuning: TuningConfig | None = None
    """A hyperparameter tuning job (objective_metric, type, strategy, max_jobs, max_parallel_jobs, early_stopping,
    ranges) whose best training job the workflow continues with. Default: none (one training job).
    """

    _instance = field_validator("instance_type")(_check_instance_type)

    @model_serializer(mode="wrap")
    def _without_absent_tuning(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A model without tuning dumps as it did before the field existed (the recorded configuration
        # in every pipeline's build, cdk_mlops.config_drift, stays byte-identical).
        data = handler(self)
        if isinstance(data, dict) and data.get("tuning", ...) is None:
            data.pop("tuning")
        return data

    @model_validator(mode="after")
    def _hyperband_resource(self) -> TrainingConfig:
        tuning = self.tuning
        inferable = any(key in self.hyperparameters for key in HYPERBAND_RESOURCE_KEYS)
        if tuning is not None and tuning.strategy == "Hyperband" and tuning.max_resource is None and not inferable:
            raise FieldError(
                "tuning.max_resource",
                None,
                "is required with Hyperband unless training.hyperparameters has one of "
                f"{', '.join(HYPERBAND_RESOURCE_KEYS)} (SageMaker infers it from them)",
            )
        return self

    @model_validator(mode="after")
    def _spot_wait(self) -> TrainingConfig:
        if self.max_wait_minutes is not None:
            if not self.spot:
                raise FieldError("max_wait_minutes", self.max_wait_minutes, "only applies when spot is true")
            if self.max_wait_minutes < self.max_runtime_minutes:
                raise FieldError(
                    "max_wait_minutes",
                    self.max_wait_minutes,
                    f"must be at least max_runtime_minutes ({self.max_runtime_minutes})",
                )
        return self


class DataConfig(_Frozen):
    """Where the training data lives. Default: ``s3://<artifact bucket>/<model>/data/`` with channels
    ``train`` and ``validation`` as sub-prefixes. ``bucket`` names an existing bucket instead."""

    bucket: str | None = None
    """An existing bucket holding the training data. Default: the platform's artifact bucket."""
    prefix: str | None = None
    """The key prefix of the data; each channel is a sub-prefix. Default: <model>/data/."""
    channels: tuple[str, ...] = ("train", "validation")
    """The training job's input channels, each read from <prefix><channel>/. Default: [train, validation]."""
    content_type: str = "text/csv"
    """The MIME type of the training data (ContentType of each channel). Default: text/csv."""


class Comparison(str, enum.Enum):
    """How a metric is compared with its threshold."""

    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN_OR_EQUAL = "<="


class MetricThreshold(_Frozen):
    """One quality-gate rule: ``metric`` compared with ``threshold`` (default comparison ``>=``), with the
    champion (the newest Approved package of the model's group) when ``beat_champion_by`` or
    ``within_champion_by`` is set. ``comparison`` gives the direction of both: ``>=`` higher is better,
    ``<=`` lower is better."""

    metric: str
    """The metric name: a training metric (e.g. validation:auc) or a key of evaluation.json's metrics (e.g.
    metrics.accuracy). Required.
    """
    threshold: float | None = None
    """The number the metric is compared with. Required unless the rule compares with the champion
    (beat_champion_by or within_champion_by); then optional, and both must hold. Default: none.
    """
    comparison: Comparison = Comparison.GREATER_THAN_OR_EQUAL
    """'>=' (default): the metric must be at least the threshold, and higher beats the champion; '<=': at most
    (for errors such as rmse, latency), and lower beats the champion.
    """
    beat_champion_by: float | None = Field(default=None, ge=0)
    """The candidate must beat the champion's value of this metric by at least this margin (>=: candidate >=
    champion + margin; <=: candidate <= champion - margin). No champion yet, or a champion without this metric:
    the rule passes and says so. Default: none (no champion comparison).
    """
    within_champion_by: float | None = Field(default=None, ge=0)
    """The candidate may be at most this much worse than the champion (>=: candidate >= champion - margin; <=:
    candidate <= champion + margin), for metrics that may not get worse. No champion yet: the rule passes and says
    so. Default: none (no champion comparison).
    """

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, value: str) -> str:
        if not METRIC_NAME_PATTERN.match(value):
            raise ValueError(f"metric names use letters, digits and _:.-/ (got {value!r})")
        return value

    _numeric = field_validator("threshold", "beat_champion_by", "within_champion_by", mode="before")(
        _check_threshold_is_number
    )

    @model_validator(mode="after")
    def _threshold_or_champion(self) -> MetricThreshold:
        if self.beat_champion_by is not None and self.within_champion_by is not None:
            raise FieldError(
                "within_champion_by",
                self.within_champion_by,
                f"a rule either beats the champion or stays within it, not both (beat_champion_by is "
                f"{self.beat_champion_by:g}): write two rules on two metrics, or pick one",
            )
        if self.threshold is None and self.champion_margin is None:
            raise FieldError(
                "threshold", None, "is required unless the rule sets beat_champion_by or within_champion_by"
            )
        return self

    @property
    def champion_margin(self) -> float | None:
        """How far the candidate may be from the champion, signed in the metric's direction: ``+margin`` for
        ``beat_champion_by``, ``-margin`` for ``within_champion_by``; None without a champion comparison."""
        if self.beat_champion_by is not None:
            return self.beat_champion_by
        if self.within_champion_by is not None:
            return -self.within_champion_by
        return None

    @property
    def key(self) -> str:
        """The metric name as a JSON key usable in a JSONPath (``validation:auc`` -> ``validation_auc``)."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.metric)


class EvaluationConfig(_Frozen):
    """Where the quality gate reads metrics.

    ``training_metrics`` (default): the training job's final metrics. ``evaluation_job``: a processing
    job runs ``script``, which writes ``evaluation.json`` (``{"metrics": {"<name>": <number>}}``) to
    its output.
    """

    source: Literal["training_metrics", "evaluation_job"] = "training_metrics"
    """training_metrics (default): the gate reads the training job's final metrics; evaluation_job: a processing job
    runs job.script, which writes evaluation.json.
    """
    job: ProcessingConfig | None = None
    """The evaluation processing job (script, instance_type, ...). Required when source is evaluation_job. Default:
    none.
    """

    @model_validator(mode="after")
    def _job_needed(self) -> EvaluationConfig:
        if self.source == "evaluation_job" and self.job is None:
            raise FieldError("job", None, "(script, instance_type) is required when source is 'evaluation_job'")
        return self


class AutoscalingConfig(_Frozen):
    """Target-tracking autoscaling on invocations per instance. Defaults: 1 to 4 instances, 200
    invocations per instance per minute, 5 minutes scale-in and 1 minute scale-out cooldown."""

    min_capacity: int = Field(default=1, ge=1)
    """Fewest instances, at least 1. Default: 1."""
    max_capacity: int = Field(default=4, ge=1)
    """Most instances, at least min_capacity. Default: 4."""
    target_invocations_per_instance: int = Field(default=200, ge=1)
    """Target value of SageMakerVariantInvocationsPerInstance (invocations per instance per minute). Default: 200."""
    scale_in_cooldown_seconds: int = Field(default=300, ge=0)
    """Cooldown after a scale-in activity before the next, in seconds. Default: 300."""
    scale_out_cooldown_seconds: int = Field(default=60, ge=0)
    """Cooldown after a scale-out activity before the next, in seconds. Default: 60."""

    @model_validator(mode="after")
    def _range(self) -> AutoscalingConfig:
        if self.max_capacity < self.min_capacity:
            raise FieldError("max_capacity", self.max_capacity, f"is below min_capacity ({self.min_capacity})")
        return self


class TrafficShiftingType(str, enum.Enum):
    """SageMaker deployment guardrail kinds: blue/green (``all_at_once``, ``canary``, ``linear``) or
    ``rolling``."""

    ALL_AT_ONCE = "all_at_once"
    CANARY = "canary"
    LINEAR = "linear"
    ROLLING = "rolling"


class SizeType(str, enum.Enum):
    """How a canary, linear step or rolling batch is sized: a percentage of the variant's instances or
    a number of instances (SageMaker ``CapacitySize.Type`` ``CAPACITY_PERCENT`` / ``INSTANCE_COUNT``)."""

    PERCENT = "percent"
    INSTANCE_COUNT = "instance_count"


#: SageMaker's bounds on a step, in percent of the variant's instance count, per traffic shifting type.
STEP_PERCENT_BOUNDS = {
    TrafficShiftingType.CANARY: (1, 50),
    TrafficShiftingType.LINEAR: (10, 50),
    TrafficShiftingType.ROLLING: (5, 50),
}
_ROLLING_ONLY = ("max_execution_timeout_minutes", "rollback_size_percent", "rollback_size_instances")


class TrafficShiftingConfig(_Frozen):
    """How an instance endpoint moves to a new model. Default: blue/green all at once with a
    10 minute bake (``bake_minutes``, the termination wait) and alarm-based auto-rollback.

    ``canary``: a canary of ``size_percent`` (default 10) of the instances, or ``size_instances`` when
    ``size_type: instance_count``, for ``wait_minutes`` (default 5), then the rest, then the bake.
    ``linear``: steps of that size (10 to 50 percent) every ``wait_minutes``, then the bake.
    ``rolling`` (SageMaker ``RollingUpdatePolicy``, no second fleet): batches of that size (5 to 50
    percent) replaced in place, each watched for ``wait_minutes``; optional
    ``max_execution_timeout_minutes`` (10 to 480) and a rollback batch size (``rollback_size_percent``
    or ``rollback_size_instances``; default: all of the old capacity at once). ``bake_minutes`` does
    not apply to ``rolling``. Sizes are also checked against the endpoint's ``instance_count``.
    """

    type: TrafficShiftingType = TrafficShiftingType.ALL_AT_ONCE
    """all_at_once (default), canary, linear (blue/green with a second fleet) or rolling (RollingUpdatePolicy, in
    place).
    """
    size_type: SizeType = SizeType.PERCENT
    """How canary, linear steps and rolling batches are sized: percent (CAPACITY_PERCENT, default) or instance_count
    (INSTANCE_COUNT).
    """
    size_percent: int = Field(default=10, ge=1, le=50)
    """Size of the canary, linear step or rolling batch in percent of the instances (canary 1-50, linear 10-50, rolling
    5-50). Default: 10.
    """
    size_instances: int | None = Field(default=None, ge=1)
    """With size_type: instance_count, the size in instances. Default: none."""
    wait_minutes: int = Field(default=5, ge=0, le=60)
    """Minutes between canary/linear steps or rolling batches (WaitIntervalInSeconds), 0 to 60. Default: 5."""
    bake_minutes: int = Field(default=10, ge=0, le=180)
    """Blue/green only: minutes the old fleet is kept after the shift (TerminationWaitInSeconds), 0 to 180. Default:
    10.
    """
    max_execution_timeout_minutes: int | None = Field(default=None, ge=10, le=480)
    """Rolling only: MaximumExecutionTimeoutInSeconds in minutes, 10 to 480. Default: none (SageMaker's)."""
    rollback_size_percent: int | None = Field(default=None, ge=1, le=100)
    """Rolling only: rollback batch size in percent of the instances. Default: all of the old capacity at once."""
    rollback_size_instances: int | None = Field(default=None, ge=1)
    """Rolling only: rollback batch size in instances. Default: all of the old capacity at once."""

    @model_validator(mode="after")
    def _sizes(self) -> TrafficShiftingConfig:
        kind = self.type
        if self.size_type is SizeType.INSTANCE_COUNT:
            if self.size_instances is None:
                raise FieldError("size_instances", None, "is required when size_type is 'instance_count'")
            if "size_percent" in self.model_fields_set:
                raise FieldError("size_percent", self.size_percent, "does not apply when size_type is 'instance_count'")
        elif self.size_instances is not None:
            raise FieldError("size_instances", self.size_instances, "only applies when size_type is 'instance_count'")
        elif kind in STEP_PERCENT_BOUNDS:
            low, high = STEP_PERCENT_BOUNDS[kind]
            if not low <= self.size_percent <= high:
                raise FieldError(
                    "size_percent",
                    self.size_percent,
                    f"must be between {low} and {high} for {kind.value} traffic shifting (SageMaker's limit)",
                )
        if kind is not TrafficShiftingType.ROLLING:
            for name in _ROLLING_ONLY:
                if getattr(self, name) is not None:
                    raise FieldError(
                        name, getattr(self, name), f"only applies to rolling updates (type is {kind.value})"
                    )
        else:
            if "bake_minutes" in self.model_fields_set:
                raise FieldError(
                    "bake_minutes", self.bake_minutes, "does not apply to rolling updates (use wait_minutes per batch)"
                )
            if self.rollback_size_percent is not None and self.rollback_size_instances is not None:
                raise FieldError(
                    "rollback_size_instances",
                    self.rollback_size_instances,
                    "give either rollback_size_percent or rollback_size_instances, not both",
                )
        return self

    def check_instance_count(self, instance_count: int) -> None:
        """SageMaker's rules that depend on the variant's instance count; raises ``FieldError`` (the field
        named relative to the endpoint)."""
        kind = self.type
        if kind is TrafficShiftingType.ALL_AT_ONCE:
            return
        if kind is TrafficShiftingType.ROLLING and instance_count < 2:
            raise FieldError(
                "instance_count",
                instance_count,
                "must be at least 2 for rolling updates (a batch is 5 to 50 percent of the instances)",
            )
        if self.size_instances is not None:
            low, high = STEP_PERCENT_BOUNDS[kind]
            if self.size_instances * 100 > high * instance_count:
                raise FieldError(
                    "traffic_shifting.size_instances",
                    self.size_instances,
                    f"must be at most {high} percent of instance_count ({instance_count}) for {kind.value} "
                    "traffic shifting, so fewer than the instance count",
                )
            if self.size_instances * 100 < low * instance_count:
                raise FieldError(
                    "traffic_shifting.size_instances",
                    self.size_instances,
                    f"must be at least {low} percent of instance_count ({instance_count}) for {kind.value} "
                    "traffic shifting",
                )
        if self.rollback_size_instances is not None and self.rollback_size_instances > instance_count:
            raise FieldError(
                "traffic_shifting.rollback_size_instances",
                self.rollback_size_instances,
                f"is above instance_count ({instance_count})",
            )


ALARM_NAME_PATTERN = re.compile(r"^[^\x00-\x1f]{1,255}$")
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
#: No ``*`` or ``?``: the prefix becomes an IAM resource ARN, where they would widen the grant.
S3_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.'()/-]{1,512}/$")


def _check_prefix(value: str | None) -> str | None:
    if value is not None and (value.startswith("/") or not S3_PREFIX_PATTERN.match(value)):
        raise ValueError("must be an S3 key prefix ending with '/' (letters, digits and !_.'()/-, no leading '/')")
    return value


class AsyncInferenceConfig(_Frozen):
    """SageMaker Asynchronous Inference for an instance endpoint: requests are queued, read from S3
    (``InvokeEndpointAsync``) and answered in S3.

    Results go to ``s3://<artifact bucket>/<output_prefix>`` (default ``<model>/async/<stage>/output/``),
    failures to ``<failure_prefix>`` (default ``<model>/async/<stage>/failures/``); the hosting role reads
    request payloads under ``input_prefix`` (default ``<model>/async/<stage>/input/``). Each instance
    works on ``max_concurrent_invocations_per_instance`` (default 4, 1 to 1000) requests at once.
    ``notify`` (default true): success and error SNS topics, encrypted with the platform key.
    ``scale_to_zero`` (default true): autoscaling from 0 instances, target-tracking
    ``ApproximateBacklogSizePerInstance`` at ``target_backlog_per_instance`` (default 5) plus a step policy
    adding one instance when ``HasBacklogWithoutCapacity``; the endpoint's ``autoscaling`` section (when
    given) sets the maximum and the cooldowns, else the ``AutoscalingConfig`` defaults apply (at most 4
    instances, 300 s scale-in and 60 s scale-out cooldown), and its ``min_capacity`` and
    ``target_invocations_per_instance`` do not apply. Prefixes end with ``/`` and have no leading ``/``.
    """

    output_prefix: str | None = None
    """Key prefix of the answers in the artifact bucket, ending in '/'. Default: <model>/async/<stage>/output/."""
    failure_prefix: str | None = None
    """Key prefix of the failure records, ending in '/'; differs from output_prefix. Default:
    <model>/async/<stage>/failures/.
    """
    input_prefix: str | None = None
    """Key prefix the hosting role reads request payloads from, ending in '/'. Default: <model>/async/<stage>/input/."""
    max_concurrent_invocations_per_instance: int = Field(default=4, ge=1, le=1000)
    """Requests each instance works on at once, 1 to 1000. Default: 4."""
    notify: bool = True
    """Success and error SNS topics, encrypted with the platform key. Default: true."""
    scale_to_zero: bool = True
    """Autoscale from 0 instances on ApproximateBacklogSizePerInstance. Default: true."""
    target_backlog_per_instance: int = Field(default=5, ge=1)
    """Target queued requests per instance when scaling to zero. Default: 5."""

    _prefix = field_validator("output_prefix", "failure_prefix", "input_prefix")(_check_prefix)

    @model_validator(mode="after")
    def _distinct_prefixes(self) -> AsyncInferenceConfig:
        if self.output_prefix is not None and self.output_prefix == self.failure_prefix:
            raise FieldError("failure_prefix", self.failure_prefix, "must differ from output_prefix")
        return self

    def prefixes(self, model_name: str, stage: str) -> tuple[str, str, str]:
        """``(output, failure, input)`` prefixes, defaults filled in."""
        base = f"{model_name}/async/{stage}"
        return (
            self.output_prefix or f"{base}/output/",
            self.failure_prefix or f"{base}/failures/",
            self.input_prefix or f"{base}/input/",
        )


#: Traffic shifting types allowed with asynchronous inference. SageMaker's deployment guardrail
#: exclusions do not name async endpoints, but canary and linear shift *invocation traffic*, and async
#: requests go through SageMaker's internal queue rather than a request router, so only the modes that
#: do not split traffic by percentage are allowed.
ASYNC_TRAFFIC_SHIFTING = (TrafficShiftingType.ALL_AT_ONCE, TrafficShiftingType.ROLLING)


class ShadowConfig(_Frozen):
    """A shadow test of each new production model before it serves: the production endpoint gets the
    candidate as a SageMaker shadow variant (``ShadowProductionVariants``, weight ``traffic_percent``/100
    of the production variant's, so that share of real requests is mirrored to it and its answers are
    discarded) for ``minutes`` (default 60); then the deploy workflow compares the shadow's CloudWatch
    metrics with production's over that window and promotes the candidate only when its p99
    ``ModelLatency`` is at most ``max_latency_increase_percent`` (default 10) above production's and its
    error rate (``Invocation5XXErrors`` + ``InvocationModelErrors`` per mirrored request) is at most
    ``max_error_rate`` (default 0.01). Otherwise the shadow is removed, the package marked Rejected with
    the comparison, and the model's topic notified. A shadow that received no requests fails the test.
    Production instance endpoints in the pipeline's account and region only.
    """

    traffic_percent: int = Field(default=100, ge=1, le=100)
    """Percent of production requests mirrored to the shadow, 1 to 100. Default: 100."""
    minutes: int = Field(default=60, ge=5, le=1440)
    """How long real traffic is mirrored before the comparison, 5 to 1440 minutes. Default: 60."""
    max_latency_increase_percent: float = Field(default=10, ge=0, le=1000)
    """How far the shadow's p99 ModelLatency may be above production's, in percent. Default: 10."""
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Highest share of mirrored requests the shadow may fail (5XX and model errors), 0 to 1. Default: 0.01."""


class ComponentAutoscalingConfig(_Frozen):
    """Target tracking of an inference component's copies (Application Auto Scaling on
    ``sagemaker:inference-component:DesiredCopyCount``, metric
    ``SageMakerInferenceComponentInvocationsPerCopy``). Defaults: 1 to 4 copies, 100 invocations per copy
    per minute, 5 minutes scale-in and 1 minute scale-out cooldown."""

    min_copies: int = Field(default=1, ge=1)
    """Fewest copies of the model, at least 1. Default: 1."""
    max_copies: int = Field(default=4, ge=1)
    """Most copies of the model, at least min_copies. Default: 4."""
    target_invocations_per_copy: int = Field(default=100, ge=1)
    """Target value of SageMakerInferenceComponentInvocationsPerCopy (per copy per minute). Default: 100."""
    scale_in_cooldown_seconds: int = Field(default=300, ge=0)
    """Cooldown after a scale-in activity before the next, in seconds. Default: 300."""
    scale_out_cooldown_seconds: int = Field(default=60, ge=0)
    """Cooldown after a scale-out activity before the next, in seconds. Default: 60."""

    @model_validator(mode="after")
    def _range(self) -> ComponentAutoscalingConfig:
        if self.max_copies < self.min_copies:
            raise FieldError("max_copies", self.max_copies, f"is below min_copies ({self.min_copies})")
        return self


class InferenceComponentConfig(_Frozen):
    """What one model reserves on a shared endpoint (``shared_endpoint``): ``copies`` (default 1) copies,
    each with ``cpus`` (default 1) CPU cores, ``memory_mb`` (default 1024) MB of memory and
    ``accelerators`` (default none) GPUs/Inferentia devices (SageMaker
    ``ComputeResourceRequirements``); optional ``autoscaling`` of the copies. A new model version is rolled
    out with the inference component rolling update policy: batches of ``rollout_batch_copies`` (default
    1) copies, each watched for ``rollout_wait_minutes`` (default 5) with auto-rollback on the
    component's alarms."""

    copies: int = Field(default=1, ge=1, le=100)
    """Copies of the model kept on the shared endpoint (RuntimeConfig.CopyCount), 1 to 100. Default: 1."""
    cpus: float = Field(default=1, gt=0, le=192)
    """CPU cores each copy reserves (NumberOfCpuCoresRequired). Default: 1."""
    memory_mb: int = Field(default=1024, ge=128, le=2_000_000)
    """Memory each copy reserves in MB (MinMemoryRequiredInMb). Default: 1024."""
    accelerators: int | None = Field(default=None, ge=1, le=16)
    """Accelerator devices (GPUs, Inferentia cores) each copy reserves (NumberOfAcceleratorDevicesRequired).
    Default: none.
    """
    autoscaling: ComponentAutoscalingConfig | None = None
    """Target tracking of the copy count on invocations per copy. Default: none (fixed copies)."""
    rollout_batch_copies: int = Field(default=1, ge=1)
    """Rolling update: copies replaced per batch (MaximumBatchSize COPY_COUNT). Default: 1."""
    rollout_wait_minutes: int = Field(default=5, ge=0, le=60)
    """Rolling update: minutes each batch is watched before the next (WaitIntervalInSeconds). Default: 5."""

    @model_validator(mode="after")
    def _copies(self) -> InferenceComponentConfig:
        scaling = self.autoscaling
        if scaling is not None and not scaling.min_copies <= self.copies <= scaling.max_copies:
            raise FieldError(
                "copies",
                self.copies,
                f"must be within autoscaling's min_copies ({scaling.min_copies}) and max_copies ({scaling.max_copies})",
            )
        return self


#: Shared-endpoint (inference component) fields that another setting of the endpoint rules out.
_NOT_ON_SHARED_ENDPOINTS = {
    "serverless": "SageMaker inference components run on instance endpoints only, serverless endpoints have none",
    "async_inference": "SageMaker inference components serve real-time requests only (no asynchronous inference)",
    "shadow": "SageMaker shadow variants are variants of an endpoint, not of an inference component",
    "autoscaling": "instances of a shared endpoint scale by its managed_instance_scaling (in its shared_endpoints "
    "file); scale this model's copies with component.autoscaling",
}


class EndpointVariantConfig(_Frozen):
    """One endpoint (staging or production).

    ``serverless: true`` hosts it on SageMaker Serverless Inference (``memory_mb`` default 2048,
    ``max_concurrency`` default 5): it costs nothing while idle, unless ``provisioned_concurrency``
    (default none, at most ``max_concurrency``) keeps that many warm instances against cold
    starts. Otherwise ``instance_type`` (default
    ``ml.m5.large``) x ``instance_count`` (default 1), with optional ``autoscaling``, rolled out as
    ``traffic_shifting`` says. ``rollback_alarm_names`` (default none): names of existing CloudWatch
    alarms that roll a deployment back, alongside the three alarms the endpoint creates (instance
    endpoints only). ``async_inference`` (default none: real-time) makes an instance endpoint
    asynchronous (see ``AsyncInferenceConfig``): not on serverless endpoints, only with ``all_at_once``
    or ``rolling`` traffic shifting (SageMaker documents no canary/linear shifting of queued async
    requests, so those are refused), and production only (``EndpointsConfig``).
    ``account`` (production only; default: the pipeline's account) deploys the endpoint stack into another
    AWS account, and ``region`` (production only; default: the pipeline's region) into another region
    (see ``EndpointsConfig``).
    """

    serverless: bool = False
    """Host on SageMaker Serverless Inference (no instances, no cost while idle). Default: false (staging's default:
    true).
    """
    memory_mb: int = 2048
    """Serverless only: memory of each serverless instance in MB, one of 1024 to 6144 in steps of 1024. Default: 2048.
    """
    max_concurrency: int = Field(default=5, ge=1, le=200)
    """Serverless only: the most concurrent invocations, 1 to 200. Default: 5."""
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)
    """Serverless only: warm instances kept against cold starts, at most max_concurrency. Default: none."""
    instance_type: str = "ml.m5.large"
    """Instance endpoints: the hosting instance type (SageMaker's ProductionVariantInstanceType list). Default:
    ml.m5.large.
    """
    instance_count: int = Field(default=1, ge=1)
    """Instance endpoints: the initial instance count. Default: 1."""
    autoscaling: AutoscalingConfig | None = None
    """Instance endpoints: target-tracking autoscaling on invocations per instance. Default: none (fixed
    instance_count).
    """
    traffic_shifting: TrafficShiftingConfig = Field(default_factory=TrafficShiftingConfig)
    """Instance endpoints: how a new model is rolled out (blue/green all at once, canary, linear, or rolling). Default:
    all at once with a 10 minute bake.
    """
    rollback_alarm_names: tuple[str, ...] = ()
    """Names of existing CloudWatch alarms that roll a deployment back, besides the endpoint's own three. Instance
    endpoints only. Default: none.
    """
    async_inference: AsyncInferenceConfig | None = None
    """Production instance endpoints: SageMaker Asynchronous Inference (requests and answers in S3). Default: none
    (real-time).
    """
    account: str | None = None
    """Production only: the 12-digit AWS account to deploy the endpoint stack into (bootstrapped with cdk bootstrap
    --trust <pipeline account>). Default: the pipeline's account.
    """
    region: str | None = None
    """Production only: the AWS region to deploy the endpoint stack into; must be a region SageMaker is offered in.
    Default: the pipeline's region.
    """
    shadow: ShadowConfig | None = None
    """Production instance endpoints: shadow-test each new model on mirrored real traffic before it serves (see
    ShadowConfig). Default: none (promote after approval).
    """
    shared_endpoint: str | None = None
    """Host the model as an inference component on the shared endpoint of this name, defined in
    <models dir>/shared_endpoints/<name>.yaml (its stack Mlops-Endpoint-<name> owns the instances). Default: none (an
    endpoint of its own).
    """
    component: InferenceComponentConfig | None = None
    """With shared_endpoint: the model's copies and compute on the shared endpoint (see InferenceComponentConfig).
    Default: one copy of 1 CPU and 1024 MB.
    """

    _instance = field_validator("instance_type")(_check_instance_type)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not REGION_PATTERN.match(value):
            raise ValueError("must be an AWS region name, e.g. 'eu-west-1'")
        return value

    @field_validator("account", mode="before")
    @classmethod
    def _account(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # YAML reads an unquoted id as a number; one with a leading 0 needs quotes
        if value is not None and not (isinstance(value, str) and ACCOUNT_PATTERN.match(value)):
            raise ValueError("must be a 12-digit AWS account id (quote it if it starts with 0), e.g. '222222222222'")
        return value

    @field_validator("rollback_alarm_names")
    @classmethod
    def _alarm_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not ALARM_NAME_PATTERN.match(name):
                raise ValueError(f"alarm names are 1 to 255 characters without control characters (got {name!r})")
        if len(set(value)) != len(value):
            raise ValueError("lists the same alarm twice")
        return value

    @field_validator("memory_mb")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value not in (1024, 2048, 3072, 4096, 5120, 6144):
            raise ValueError("serverless memory_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144")
        return value

    @model_validator(mode="after")
    def _serverless_rules(self) -> EndpointVariantConfig:
        if self.serverless and self.autoscaling is not None:
            raise FieldError(
                "autoscaling",
                self.autoscaling.model_dump(),
                "does not apply to serverless endpoints (they scale by concurrency)",
            )
        if self.serverless and self.traffic_shifting.type is not TrafficShiftingType.ALL_AT_ONCE:
            raise FieldError(
                "traffic_shifting.type",
                self.traffic_shifting.type.value,
                "serverless endpoints support only all_at_once traffic shifting; "
                f"{self.traffic_shifting.type.value} needs an instance endpoint (serverless: false)",
            )
        if self.provisioned_concurrency is not None:
            if not self.serverless:
                raise FieldError(
                    "provisioned_concurrency",
                    self.provisioned_concurrency,
                    "applies to serverless endpoints only (serverless: true); size instance endpoints with "
                    "instance_count and autoscaling",
                )
            if self.provisioned_concurrency > self.max_concurrency:
                raise FieldError(
                    "provisioned_concurrency",
                    self.provisioned_concurrency,
                    f"must be at most max_concurrency ({self.max_concurrency})",
                )
        if self.serverless and self.rollback_alarm_names:
            raise FieldError(
                "rollback_alarm_names",
                list(self.rollback_alarm_names),
                "does not apply to serverless endpoints (they have no deployment guardrails)",
            )
        if not self.serverless:
            self.traffic_shifting.check_instance_count(self.instance_count)
        if self.autoscaling and self.instance_count < self.autoscaling.min_capacity:
            raise FieldError(
                "instance_count",
                self.instance_count,
                f"is below autoscaling.min_capacity ({self.autoscaling.min_capacity})",
            )
        return self

    @model_validator(mode="after")
    def _shadow_rules(self) -> EndpointVariantConfig:
        if self.shadow is None:
            return self
        shadow = self.shadow.model_dump(exclude_unset=True)
        if self.serverless:
            raise FieldError(
                "shadow",
                shadow,
                "needs an instance endpoint (serverless: false): SageMaker shadow variants run on instances, "
                "serverless endpoints have none",
            )
        if self.async_inference is not None:
            raise FieldError(
                "shadow",
                shadow,
                "is not available with async_inference: SageMaker mirrors real-time InvokeEndpoint requests "
                "to a shadow variant, not queued asynchronous ones",
            )
        for name in ("account", "region"):
            value = getattr(self, name)
            if value is not None:
                raise FieldError(
                    "shadow",
                    shadow,
                    f"is not available with a production endpoint in another {name} ({name} {value}): the "
                    "deploy workflow reads the shadow's metrics with CloudWatch GetMetricData in the pipeline's "
                    "account and region",
                )
        return self

    @model_serializer(mode="wrap")
    def _without_absent_component(self, handler: SerializerFunctionWrapHandler) -> Any:
        # An endpoint of its own dumps as it did before shared endpoints existed (the recorded configuration
        # in every pipeline's build, cdk_mlops.config_drift, stays byte-identical).
        data = handler(self)
        if isinstance(data, dict):
            for name in ("shared_endpoint", "component"):
                if name in data and data[name] is None:
                    data.pop(name)
        return data

    @field_validator("shared_endpoint")
    @classmethod
    def _shared_endpoint_name(cls, value: str | None) -> str | None:
        if value is not None and not SHARED_ENDPOINT_NAME_PATTERN.match(value):
            raise ValueError("must be 1 to 40 lowercase letters, digits or hyphens, starting with a letter")
        return value

    @model_validator(mode="after")
    def _shared_endpoint_rules(self) -> EndpointVariantConfig:
        if self.shared_endpoint is None:
            if self.component is not None:
                raise FieldError(
                    "component", self.component.model_dump(exclude_unset=True), "only applies with shared_endpoint"
                )
            return self
        for name, reason in _NOT_ON_SHARED_ENDPOINTS.items():
            value = getattr(self, name)
            if value:
                shown = value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
                raise FieldError(
                    name, shown, f"is not available with shared_endpoint {self.shared_endpoint!r}: {reason}"
                )
        for name in ("instance_type", "instance_count"):
            if name in self.model_fields_set:
                raise FieldError(
                    name,
                    getattr(self, name),
                    f"is set by shared_endpoints/{self.shared_endpoint}.yaml for shared_endpoint "
                    f"{self.shared_endpoint!r} (one source of truth); remove it here",
                )
        if "traffic_shifting" in self.model_fields_set:
            raise FieldError(
                "traffic_shifting",
                self.traffic_shifting.model_dump(exclude_unset=True),
                "does not apply with shared_endpoint: an inference component rolls out with its rolling update "
                "policy (component.rollout_batch_copies, component.rollout_wait_minutes)",
            )
        for name in ("account", "region"):
            value = getattr(self, name)
            if value is not None:
                raise FieldError(
                    name,
                    value,
                    f"is not available with shared_endpoint {self.shared_endpoint!r}: shared endpoints live in "
                    "the pipeline's account and region",
                )
        return self

    @model_validator(mode="after")
    def _async_rules(self) -> EndpointVariantConfig:
        config = self.async_inference
        if config is None:
            return self
        if self.serverless:
            raise FieldError(
                "async_inference",
                config.model_dump(exclude_unset=True),
                "is not available on serverless endpoints; use an instance endpoint (serverless: false)",
            )
        kind = self.traffic_shifting.type
        if kind not in ASYNC_TRAFFIC_SHIFTING:
            raise FieldError(
                "traffic_shifting.type",
                kind.value,
                "asynchronous endpoints support only all_at_once or rolling traffic shifting "
                "(canary and linear split request traffic, which queued async requests do not have)",
            )
        if config.scale_to_zero and self.autoscaling is not None:
            for name in ("min_capacity", "target_invocations_per_instance"):
                if name in self.autoscaling.model_fields_set:
                    raise FieldError(
                        f"autoscaling.{name}",
                        getattr(self.autoscaling, name),
                        "does not apply when async_inference.scale_to_zero is true (the endpoint scales "
                        "from 0 on its backlog; see async_inference.target_backlog_per_instance)",
                    )
        return self


class DataCaptureConfig(_Frozen):
    """Request/response capture to the encrypted artifact bucket. Default: off; when on, 20 percent."""

    enabled: bool = False
    """Capture requests and responses to s3://<artifact bucket>/<model>/data-capture/<stage>/. Default: false."""
    sampling_percent: int = Field(default=20, ge=1, le=100)
    """Percent of requests captured, 1 to 100. Default: 20."""


class EndpointsConfig(_Frozen):
    """Staging (default: serverless) and production (default: one ml.m5.large) endpoints.

    ``production.account`` (default: none, the pipeline's account) puts the production endpoint stack in
    another account of the same region, bootstrapped with ``cdk bootstrap --trust <pipeline account>``:
    the pipeline's deploy workflow assumes that account's CDK deploy role, and the model package group,
    the artifact bucket and the platform key grant that account read access to this model's packages
    and model data. Staging always runs in the pipeline's account and region (the smoke test calls it
    directly).

    ``production.region`` (default: none, the pipeline's region) puts the production endpoint stack in
    another region: each release copies the model data there, and the endpoint serves the framework's
    image of that region (``build_app`` checks the region has one, and refuses ``staging.region``,
    ``drift`` and a ``framework.image_uri`` of another region's registry with it).
    """

    staging: EndpointVariantConfig = Field(default_factory=lambda: EndpointVariantConfig(serverless=True))
    """The staging endpoint, in the pipeline's account and region (the smoke test invokes it). Default: serverless,
    2048 MB.
    """
    production: EndpointVariantConfig = Field(default_factory=EndpointVariantConfig)
    """The production endpoint, deployed after manual approval. Default: one ml.m5.large, blue/green all at once."""
    data_capture: DataCaptureConfig = Field(default_factory=DataCaptureConfig)
    """Capture of requests and responses to the encrypted artifact bucket. Default: off."""
    content_type: str = "text/csv"
    """The MIME type the endpoints' model expects. Default: text/csv."""

    @model_validator(mode="after")
    def _staging_in_pipeline_account(self) -> EndpointsConfig:
        if self.staging.account is not None:
            raise FieldError(
                "staging.account",
                self.staging.account,
                "staging runs in the pipeline's account (the smoke test invokes it from there); "
                "only production.account may name another account",
            )
        return self

    @model_validator(mode="after")
    def _shadow_in_production(self) -> EndpointsConfig:
        if self.staging.shadow is not None:
            raise FieldError(
                "staging.shadow",
                self.staging.shadow.model_dump(exclude_unset=True),
                "is available for production only: the shadow test runs between approval and production",
            )
        return self

    @model_validator(mode="after")
    def _no_capture_on_shared_endpoints(self) -> EndpointsConfig:
        for stage in ("staging", "production"):
            name = getattr(self, stage).shared_endpoint
            if name is not None and self.data_capture.enabled:
                raise FieldError(
                    "data_capture.enabled",
                    True,
                    f"is not available with {stage}.shared_endpoint {name!r}: data capture is part of an endpoint "
                    "config, which the models of a shared endpoint share, so one model cannot turn it on alone",
                )
        return self

    @model_validator(mode="after")
    def _staging_answers_the_smoke_test(self) -> EndpointsConfig:
        if self.staging.async_inference is not None:
            raise FieldError(
                "staging.async_inference",
                self.staging.async_inference.model_dump(exclude_unset=True),
                "is available for production only: the smoke test calls InvokeEndpoint synchronously on "
                "staging, which an asynchronous endpoint does not answer; keep staging real-time or serverless",
            )
        return self


class SmokeTestConfig(_Frozen):
    """The request sent to the staging endpoint after each deploy. Default: one CSV row of zeros;
    the test passes when the endpoint answers within ``max_latency_ms`` (default 3000)."""

    payload: str = "0,0,0,0"
    """The request body sent to the staging endpoint. Default: 0,0,0,0."""
    content_type: str = "text/csv"
    """ContentType of the smoke-test request. Default: text/csv."""
    max_latency_ms: int = Field(default=3000, ge=1)
    """The test fails when the endpoint takes longer, in milliseconds. Default: 3000."""


SCHEDULE_PATTERN = re.compile(
    r"^(rate\((?P<value>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)"
    r"|cron\((\S+ ){5}\S+\)"
    r"|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$"
)
SCRIPT_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/-]*\.py$")


def _check_schedule(value: str) -> str:
    match = SCHEDULE_PATTERN.match(value)
    if match is None:
        raise ValueError(
            "must be an EventBridge Scheduler expression: 'rate(<n> <minutes|hours|days>)', "
            "'cron(<6 fields>)' or 'at(yyyy-mm-ddThh:mm:ss)'"
        )
    if match["value"] is not None and (match["value"] == "1") != (not match["unit"].endswith("s")):
        raise ValueError("rate() takes a singular unit for 1 and a plural one otherwise, e.g. 'rate(1 day)'")
    return value


class DriftConfig(_Frozen):
    """Scheduled drift check of the production endpoint's captured inputs, and optional retraining.

    On ``schedule`` (EventBridge Scheduler expression, default ``rate(1 day)``) a workflow runs
    ``script`` (a file in the model's ``src/``, default ``drift.py``) in a processing job on one
    ``instance_type`` (default ``ml.m5.large``); it compares the captured inputs
    (``<model>/data-capture/production/``) with the training data (``<model>/data/train/``) and writes
    ``{"drift_score": <number>}`` to ``/opt/ml/processing/output/drift/drift.json``. The score is
    published as the CloudWatch metric ``cdk-mlops`` / ``DriftScore`` (dimension ``Model``); an alarm at
    ``DriftScore > threshold`` (default 0.2) notifies the model's topic. ``retrain_on_drift`` (default
    false) also starts the pipeline when the alarm fires; ``retrain_schedule`` (default none, e.g.
    ``rate(7 days)``) starts it periodically. Needs ``endpoints.data_capture.enabled``.
    """

    schedule: str = "rate(1 day)"
    """EventBridge Scheduler expression of the check: rate(...), cron(...) or at(...). Default: rate(1 day)."""
    script: str = "drift.py"
    """The drift script in the model's src/ folder; writes {"drift_score": <number>}. Default: drift.py."""
    instance_type: str = "ml.m5.large"
    """The processing instance type of the check (SageMaker's ProcessingInstanceType list). Default: ml.m5.large."""
    threshold: float = Field(default=0.2, gt=0)
    """The alarm fires when the published DriftScore exceeds it (a number > 0). Default: 0.2."""
    retrain_on_drift: bool = False
    """Also start the pipeline when the drift alarm fires. Default: false."""
    retrain_schedule: str | None = None
    """An EventBridge Scheduler expression that starts the pipeline periodically, e.g. rate(7 days). Default: none."""

    _instance = field_validator("instance_type")(_check_instance_type)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _check_schedule(value)

    @field_validator("retrain_schedule")
    @classmethod
    def _retrain_schedule(cls, value: str | None) -> str | None:
        return None if value is None else _check_schedule(value)

    @field_validator("script")
    @classmethod
    def _script(cls, value: str) -> str:
        if not SCRIPT_PATTERN.match(value) or ".." in value.split("/"):
            raise ValueError("must be a Python file in the model's src/ folder, e.g. 'drift.py'")
        return value

    _numeric = field_validator("threshold", mode="before")(_check_threshold_is_number)


#: What CreateTransformJob takes for how input files are split into records, how records are sent
#: to the model, and how the results are put together.
SplitType = Literal["Line", "None", "RecordIO", "TFRecord"]
BatchStrategy = Literal["MultiRecord", "SingleRecord"]
AssembleWith = Literal["Line", "None"]
#: SageMaker's limit on ``MaxPayloadInMB``, and on ``MaxConcurrentTransforms x MaxPayloadInMB``.
MAX_TRANSFORM_PAYLOAD_MB = 100


class BatchConfig(_Frozen):
    """The batch transform of a batch model (``inference: batch``): no endpoint; a SageMaker transform
    job scores every file under an S3 prefix with a model created from the model package.

    Input: ``s3://<data bucket>/<input_prefix>`` (default ``<model>/batch/input/``; the data bucket is
    ``data.bucket``, else the artifact bucket). Output: ``s3://<artifact bucket>/<output_prefix><execution
    name>/`` (default prefix ``<model>/batch/output/``), encrypted with the platform key. The job runs on
    ``instance_count`` (default 1, 1 to 100) ``instance_type`` (default ``ml.m5.large``).
    ``content_type`` (default: ``data.content_type``) and ``accept`` (default: the content type) are
    the MIME types of the input and the output. ``split_type`` (default ``Line``: a record per line;
    ``None``, ``RecordIO``, ``TFRecord``), ``batch_strategy`` (default ``MultiRecord``: as many records
    per request as ``max_payload_mb`` allows; ``SingleRecord``), ``assemble_with`` (default ``Line``: a
    result line per record; ``None``), ``max_payload_mb`` (default 6, 0 to 100) and
    ``max_concurrent_transforms`` (default none: SageMaker's choice) are CreateTransformJob's;
    ``max_concurrent_transforms x max_payload_mb`` may not exceed 100 (SageMaker's limit).
    ``schedule`` (default none; an EventBridge Scheduler expression such as ``rate(1 day)``) also runs
    the transform periodically with the newest Approved package of the model. ``date_partition``
    (default false: every run scores everything under the input prefix) makes each run score only
    ``<input_prefix><YYYY-MM-DD>/``, the UTC date the run starts: the partition a producer writes for
    that day, so a nightly schedule scores each day's new data once. Prefixes end with ``/`` and have no
    leading ``/``.
    """

    input_prefix: str | None = None
    """Key prefix of the data to score in the data bucket, ending in '/'. Default: <model>/batch/input/."""
    output_prefix: str | None = None
    """Key prefix of the results in the artifact bucket (a folder per run), ending in '/'. Default:
    <model>/batch/output/.
    """
    instance_type: str = "ml.m5.large"
    """The transform instance type (SageMaker's TransformInstanceType list). Default: ml.m5.large."""
    instance_count: int = Field(default=1, ge=1, le=100)
    """Number of transform instances, 1 to 100. Default: 1."""
    content_type: str | None = None
    """MIME type of the input (TransformInput.ContentType). Default: data.content_type."""
    accept: str | None = None
    """MIME type of the output (TransformOutput.Accept). Default: the content type."""
    split_type: SplitType = "Line"
    """How input files are split into records: Line (default), None, RecordIO or TFRecord."""
    batch_strategy: BatchStrategy = "MultiRecord"
    """MultiRecord (default): as many records per request as max_payload_mb allows; SingleRecord: one."""
    assemble_with: AssembleWith = "Line"
    """Line (default): a result line per record; None: results concatenated."""
    max_payload_mb: int = Field(default=6, ge=0, le=MAX_TRANSFORM_PAYLOAD_MB)
    """MaxPayloadInMB of each request, 0 to 100. Default: 6."""
    max_concurrent_transforms: int | None = Field(default=None, ge=1)
    """MaxConcurrentTransforms per instance; times max_payload_mb at most 100. Default: none (SageMaker's choice)."""
    schedule: str | None = None
    """An EventBridge Scheduler expression that also runs the transform with the newest Approved package, e.g. rate(1
    day). Default: none.
    """
    date_partition: bool = False
    """Each run scores only <input_prefix><YYYY-MM-DD>/, the UTC date it starts. Default: false (everything under the
    prefix).
    """

    _instance = field_validator("instance_type")(_check_instance_type)
    _prefix = field_validator("input_prefix", "output_prefix")(_check_prefix)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else _check_schedule(value)

    @model_validator(mode="after")
    def _payload_limit(self) -> BatchConfig:
        concurrent = self.max_concurrent_transforms
        if concurrent is not None and concurrent * self.max_payload_mb > MAX_TRANSFORM_PAYLOAD_MB:
            raise FieldError(
                "max_concurrent_transforms",
                concurrent,
                f"x max_payload_mb ({self.max_payload_mb}) = {concurrent * self.max_payload_mb} MB, above "
                f"SageMaker's limit of {MAX_TRANSFORM_PAYLOAD_MB} MB for MaxConcurrentTransforms x MaxPayloadInMB",
            )
        return self

    def prefixes(self, model_name: str) -> tuple[str, str]:
        """``(input, output)`` prefixes, defaults filled in."""
        return (
            self.input_prefix or f"{model_name}/batch/input/",
            self.output_prefix or f"{model_name}/batch/output/",
        )


#: Why each endpoint-only section of model.yaml is refused for batch models.
_ENDPOINT_ONLY_SECTIONS = {
    "endpoints": "set the transform job's instances in batch (instance_type, instance_count)",
    "smoke_test": "the manual approval gates the batch transform instead",
    "drift": "there are no captured requests to compare with the training data",
}


class PipelineConfig(_Frozen):
    """How the pipeline itself follows the repository.

    ``self_update`` (default false): an ``UpdatePipeline`` stage right after Source deploys this
    model's stacks from the pushed commit with the CDK CLI (``Mlops-<name>-*``, through the CDK
    bootstrap roles), so a changed ``model.yaml`` is applied by the push alone. Off by default because
    the pipeline then holds deploy rights; without it, a pushed change fails the build until someone
    runs ``npx cdk deploy "Mlops-<name>-*"``.
    """

    self_update: bool = Field(
        default=False,
        description="Deploy this model's stacks from each pushed commit before building (needs CDK deploy rights).",
    )


class ModelConfig(_Frozen):
    """One model: everything its pipeline, workflow and endpoints need.

    Only ``name`` and ``framework`` are required; see each section's defaults. ``inference`` (default
    ``endpoint``: staging and production endpoints) ``batch`` makes a batch model: no endpoint, a batch
    transform of new data instead (``batch``, see ``BatchConfig``; ``batch_settings`` has its defaults
    filled in), and no ``endpoints``, ``smoke_test`` or ``drift`` section.
    """

    name: str
    """The model's name: 1 to 20 lowercase letters, digits or hyphens, starting with a letter. Names the stacks
    (Mlops-<name>-Pipeline, -Staging, -Production), prefixes the SageMaker job, model and endpoint names, and must
    equal the model's folder name. Required.
    """
    description: str = ""
    """Free text describing the model, shown in the stack descriptions. Default: empty."""
    source: SourceConfig
    """The repository whose pushes start the pipeline (CodeConnections, CodeCommit or S3). Required."""
    framework: FrameworkConfig
    """The training and serving container: a framework SageMaker publishes images for, or your own image. Required."""
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    """The SageMaker training job. Default: one ml.m5.xlarge, 30 GiB volume, 2 hours, on-demand."""
    data: DataConfig = Field(default_factory=DataConfig)
    """Where the training data lives in S3. Default: s3://<artifact bucket>/<model>/data/ with channels train and
    validation.
    """
    preprocessing: ProcessingConfig | None = None
    """An optional SageMaker processing job run before training (a script from src/). Default: none."""
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    """Where the quality gate reads its metrics: the training job's final metrics (default) or an evaluation processing
    job.
    """
    quality_gate: tuple[MetricThreshold, ...] = ()
    """Rules a trained model must pass before it is registered for approval: each compares a metric with a threshold,
    with the champion (beat_champion_by, within_champion_by), or both. Default: none (every model passes).
    """
    endpoints: EndpointsConfig = Field(default_factory=EndpointsConfig)
    """The staging and production SageMaker endpoints. Default: serverless staging, production on one ml.m5.large."""
    smoke_test: SmokeTestConfig = Field(default_factory=SmokeTestConfig)
    """The request sent to the staging endpoint after each deploy. Default: one CSV row of zeros, 3000 ms limit."""
    notification_email: str | None = None
    """Email address subscribed to the model's SNS topic (manual approvals, failures, alarms). Default: none; validate
    warns, since nobody is told otherwise.
    """
    pipeline_class: str | None = None
    """'<file>.py:<ClassName>' relative to the model's folder: an MlPipeline subclass that overrides workflow hooks.
    Default: MlPipeline.
    """
    drift: DriftConfig | None = None
    """A scheduled drift check of the production endpoint's captured inputs, with optional retraining. Default: none
    (needs endpoints.data_capture.enabled).
    """
    inference: Literal["endpoint", "batch"] = "endpoint"
    """'endpoint' (default): staging and production endpoints; 'batch': no endpoint, a SageMaker batch transform of new
    data (see batch).
    """
    batch: BatchConfig | None = None
    """The batch transform of a batch model (inference: batch). Default: the BatchConfig defaults (one ml.m5.large,
    Line split, MultiRecord).
    """
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    """How the pipeline follows the repository (opt-in self_update stage). Default: self_update false."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not MODEL_NAME_PATTERN.match(value):
            raise ValueError(
                "model names are 1 to 20 lowercase letters, digits or hyphens, starting with a letter "
                "(they prefix SageMaker job names, which are limited to 63 characters)"
            )
        return value

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("notification_email is not an email address")
        return value

    @model_validator(mode="after")
    def _batch_inference(self) -> ModelConfig:
        if self.inference != "batch":
            if self.batch is not None:
                raise FieldError(
                    "batch",
                    self.batch.model_dump(exclude_unset=True),
                    f"only applies to batch models; set inference: batch (inference is {self.inference!r})",
                )
            return self
        for section, instead in _ENDPOINT_ONLY_SECTIONS.items():
            if section in self.model_fields_set:
                value = getattr(self, section)
                raise FieldError(
                    section,
                    value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value,
                    f"does not apply to batch models (inference: batch): they host no endpoint; {instead}",
                )
        input_prefix, output_prefix = (self.batch or BatchConfig()).prefixes(self.name)
        if self.data.bucket is None and (
            output_prefix.startswith(input_prefix) or input_prefix.startswith(output_prefix)
        ):
            raise FieldError(
                "batch.output_prefix",
                output_prefix,
                f"overlaps batch.input_prefix ({input_prefix}) in the artifact bucket: every run would read "
                "the results of the runs before it",
            )
        return self

    @property
    def batch_settings(self) -> BatchConfig:
        """The ``batch`` section with every default filled in (``BatchConfig()`` when it is left out):
        ``input_prefix`` ``<model>/batch/input/``, ``output_prefix`` ``<model>/batch/output/``,
        ``content_type`` from ``data.content_type`` and ``accept`` the content type."""
        settings = self.batch or BatchConfig()
        input_prefix, output_prefix = settings.prefixes(self.name)
        content_type = settings.content_type or self.data.content_type
        return settings.model_copy(
            update={
                "input_prefix": input_prefix,
                "output_prefix": output_prefix,
                "content_type": content_type,
                "accept": settings.accept or content_type,
            }
        )

    @model_validator(mode="after")
    def _gate_metrics_exist(self) -> ModelConfig:
        seen: set[str] = set()
        for rule in self.quality_gate:
            if rule.key in seen:
                raise FieldError("quality_gate", rule.metric, "lists the same metric twice")
            seen.add(rule.key)
        if self.training.entry_point is None and self.framework.name not in ("xgboost", "custom"):
            raise FieldError(
                "training.entry_point",
                None,
                f"is required for framework {self.framework.name!r} (script mode)",
            )
        if self.training.entry_point is not None and self.evaluation.source == "training_metrics":
            for index, rule in enumerate(self.quality_gate):
                if rule.metric not in self.training.metric_definitions:
                    raise FieldError(
                        f"quality_gate.{index}.metric",
                        rule.metric,
                        "is not a metric the training job reports: a training script's metrics come from "
                        "training.metric_definitions (name: log regex), which has none by that name "
                        f"(defined: {', '.join(sorted(self.training.metric_definitions)) or 'none'}); "
                        "add it there, or gate on an evaluation job (evaluation.source: evaluation_job)",
                    )
        if self.training.tuning is not None:
            from cdk_mlops.config.tuning_checks import objective_problem

            problem = objective_problem(self)
            if problem is not None:
                raise problem
        if self.drift is not None and not self.endpoints.data_capture.enabled:
            raise FieldError(
                "drift",
                self.drift.model_dump(),
                "needs endpoints.data_capture.enabled: true (the drift check reads the captured inputs)",
            )
        if self.drift is not None and self.endpoints.production.account is not None:
            raise FieldError(
                "drift",
                self.drift.model_dump(),
                f"is not available with a production endpoint in another account "
                f"(endpoints.production.account {self.endpoints.production.account}): the drift check runs in "
                "the pipeline's account and reads captured inputs from its artifact bucket",
            )
        return self
