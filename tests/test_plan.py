"""The plan (``cdk_mlops.plan.plan_models``): every model file checked in pure Python, every problem at
once, naming file, field and value; ``build_app`` (what ``cdk synth`` runs) refuses the same mistakes
before it creates a stack.

The mistakes are those a new user's models were seen to slip through (issue 13): an entry point outside
``src/``, a ``source.path`` that is not the model's folder, ``ml.m5.huge``, a folder named differently
from the model, built-in XGBoost without ``num_round``, a ``training:`` key given twice, and a region
typo. Instance types are SageMaker's published lists as botocore carries them (the ``*InstanceType``
enums of the SageMaker API reference, e.g.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html); the XGBoost rules
follow the built-in algorithm's hyperparameter page
(https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost_hyperparameters.html: num_round required,
num_class required for multi:softmax and multi:softprob).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_mlops.plan import Plan, instance_types, known_regions, plan_models
from cdk_mlops_testing import REPO_ROOT, example_config_data, write_model, write_model_with_code

Mistake = Callable[[Path, dict[str, Any]], Path]


def churn(models_dir: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The churn-xgb fixture as a complete model folder under ``models_dir``, changed by ``change``."""
    data = example_config_data("churn-xgb")
    if change is not None:
        change(data)
    return write_model_with_code(models_dir, data)


def only_error(plan: Plan) -> str:
    (problem,) = plan.errors
    return problem.text


# ---- each mistake: (how to make it, the field named, the value named) -----------------------------------


def entry_point_outside_src(models_dir: Path) -> Path:
    iris = example_config_data("iris-sklearn")
    del iris["pipeline_class"]
    path = write_model_with_code(models_dir, iris)
    (path.parent / "src" / "train.py").rename(path.parent / "train.py")
    return path


def source_path_elsewhere(models_dir: Path) -> Path:
    return churn(models_dir, lambda data: data["source"].update(path="models/churn"))


def huge_instance(models_dir: Path) -> Path:
    return churn(models_dir, lambda data: data["training"].update(instance_type="ml.m5.huge"))


def folder_named_differently(models_dir: Path) -> Path:
    path = churn(models_dir)
    folder = path.parent.rename(path.parent.with_name("churn"))
    config = yaml.safe_load((folder / "model.yaml").read_text())
    config["source"]["path"] = "models/churn"
    (folder / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / "model.yaml"


def xgboost_without_num_round(models_dir: Path) -> Path:
    return churn(models_dir, lambda data: data["training"]["hyperparameters"].pop("num_round"))


def training_given_twice(models_dir: Path) -> Path:
    path = churn(models_dir)
    path.write_text(path.read_text() + "training:\n  instance_type: ml.m5.large\n")
    return path


def region_typo(models_dir: Path) -> Path:
    return churn(models_dir, lambda data: data["endpoints"]["production"].update(region="eu-wset-1"))


MISTAKES = {
    "entry point outside src": (entry_point_outside_src, "training.entry_point", "'train.py'"),
    "source.path not the folder": (source_path_elsewhere, "source.path", "'models/churn'"),
    "ml.m5.huge": (huge_instance, "training.instance_type", "'ml.m5.huge'"),
    "folder name differs": (folder_named_differently, "name", "'churn-xgb'"),
    "xgboost without num_round": (xgboost_without_num_round, "training.hyperparameters.num_round", "'eta'"),
    "training given twice": (training_given_twice, "training", "'training' twice"),
    "region typo": (region_typo, "endpoints.production.region", "'eu-wset-1'"),
}


@pytest.mark.parametrize(("make", "field", "value"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_silently_accepted_mistake_is_an_error_naming_file_field_and_value(
    tmp_path: Path, make: Callable[[Path], Path], field: str, value: str
) -> None:
    path = make(tmp_path / "models")

    plan = plan_models(tmp_path / "models", region="eu-west-1")

    (problem,) = plan.errors
    assert problem.path == path
    assert problem.field == field
    assert value in problem.text.rpartition("(got ")[2]


@pytest.mark.parametrize(("make", "field", "value"), MISTAKES.values(), ids=MISTAKES.keys())
def test_build_app_refuses_each_mistake_before_creating_a_stack(
    tmp_path: Path, make: Callable[[Path], Path], field: str, value: str
) -> None:
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app
    from cdk_mlops.config import ModelConfigError

    path = make(tmp_path / "models")
    app = cdk.App(builtin_cloud_formation_validation=False)

    with pytest.raises(ModelConfigError) as raised:
        build_app(app, tmp_path / "models", region="eu-west-1")

    assert raised.value.path == path
    (problem,) = raised.value.problems
    assert problem.startswith(f"{field}: ")
    assert str(path) in str(raised.value)
    assert app.node.children == []


# ---- the messages ---------------------------------------------------------------------------------------


def test_a_script_beside_src_is_found_and_the_error_says_to_move_it(tmp_path: Path) -> None:
    path = entry_point_outside_src(tmp_path / "models")

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text == (
        f"training.entry_point: no file src/train.py in {path.parent}: the build uploads src/ as the job's code "
        "(it is in the model's folder: move it into src/) (got 'train.py')"
    )


@pytest.mark.parametrize(
    ("section", "field", "shape"),
    [
        ({"training": {"instance_type": "ml.m5.huge"}}, "training.instance_type", "TrainingInstanceType"),
        ({"drift": {"instance_type": "ml.m5.huge"}}, "drift.instance_type", "ProcessingInstanceType"),
        (
            {"endpoints": {"production": {"instance_type": "ml.m5.huge"}}},
            "endpoints.production.instance_type",
            "ProductionVariantInstanceType",
        ),
    ],
)
def test_instance_types_are_checked_against_the_list_for_their_kind_with_a_suggestion(
    tmp_path: Path, section: dict[str, Any], field: str, shape: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        ((key, values),) = section.items()
        if key == "endpoints":
            data["endpoints"]["production"].update(values["production"])
        else:
            data[key].update(values)

    churn(tmp_path / "models", change)

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text.startswith(f"{field}: is not a SageMaker ")
    assert f"(botocore's {shape}); did you mean 'ml.m5." in text
    assert text.endswith("(got 'ml.m5.huge')")
    assert "ml.m5.huge" not in instance_types(shape)


def test_a_batch_transform_instance_is_checked_against_the_transform_list(tmp_path: Path) -> None:
    fraud = example_config_data("fraud-batch")
    fraud["batch"]["instance_type"] = "ml.t3.medium"  # a hosting type SageMaker does not offer for transform jobs
    write_model_with_code(tmp_path / "models", fraud)

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert "ml.t3.medium" not in instance_types("TransformInstanceType")
    assert text.startswith("batch.instance_type: is not a SageMaker batch transform instance type")
    assert text.endswith("(got 'ml.t3.medium')")


def test_multiclass_xgboost_needs_num_class(tmp_path: Path) -> None:
    churn(tmp_path / "models", lambda data: data["training"]["hyperparameters"].update(objective="multi:softmax"))

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text.startswith(
        "training.hyperparameters.num_class: is required by the built-in XGBoost algorithm with objective multi:softmax"
    )


def test_num_round_must_be_a_positive_integer(tmp_path: Path) -> None:
    churn(tmp_path / "models", lambda data: data["training"]["hyperparameters"].update(num_round="lots"))

    assert only_error(plan_models(tmp_path / "models", region="eu-west-1")) == (
        "training.hyperparameters.num_round: must be an integer of at least 1 (got 'lots')"
    )


def test_script_mode_xgboost_needs_no_num_round(tmp_path: Path) -> None:
    def script_mode(data: dict[str, Any]) -> None:
        data["training"]["hyperparameters"].pop("num_round")
        data["training"]["entry_point"] = "train.py"
        data["training"]["metric_definitions"] = {"validation:auc": "auc=([0-9.]+)"}

    churn(tmp_path / "models", script_mode)

    assert plan_models(tmp_path / "models", region="eu-west-1").errors == []


def test_a_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    path = training_given_twice(tmp_path / "models")
    last = len(path.read_text().splitlines()) - 1
    first = 1 + next(i for i, line in enumerate(path.read_text().splitlines()) if line == "training:")

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text.startswith(f"training: is given twice (lines {first} and {last}); YAML would silently keep only")


def test_a_region_typo_gets_a_short_answer_naming_the_field_and_the_known_regions(tmp_path: Path) -> None:
    region_typo(tmp_path / "models")

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text.startswith(
        "endpoints.production.region: is not a region SageMaker is offered in; did you mean 'eu-west-1'?"
    )
    closest = text.partition("closest to it: ")[2].partition(";")[0].split(", ")
    assert {"eu-west-1", "eu-west-2", "eu-west-3"} <= set(closest)
    assert text.endswith("from botocore's endpoint data) (got 'eu-wset-1')")
    assert "pip install" not in text
    assert len(text) < 300


def test_a_pipeline_region_typo_is_reported_once_for_the_models_folder(tmp_path: Path) -> None:
    churn(tmp_path / "models")

    plan = plan_models(tmp_path / "models", region="eu-wset-1")

    (problem,) = plan.errors
    assert problem.path == tmp_path / "models"
    assert problem.text.startswith("region: is not a region SageMaker is offered in; did you mean 'eu-west-1'?")
    assert problem.text.endswith("(got 'eu-wset-1')")


def test_known_regions_come_from_botocore_and_include_other_partitions() -> None:
    regions = known_regions()

    assert {"eu-west-1", "us-east-1", "ap-southeast-2"} <= set(regions)
    assert "cn-north-1" in regions
    assert "eu-wset-1" not in regions


def test_unknown_keys_and_enum_values_get_a_did_you_mean(tmp_path: Path) -> None:
    def typos(data: dict[str, Any]) -> None:
        data["training"]["instance_typ"] = data["training"].pop("instance_type")
        data["endpoints"]["production"]["traffic_shifting"]["type"] = "canaryy"

    churn(tmp_path / "models", typos)

    texts = sorted(problem.text for problem in plan_models(tmp_path / "models", region="eu-west-1").errors)

    assert texts == [
        "endpoints.production.traffic_shifting.type: Input should be 'all_at_once', 'canary', 'linear' or "
        "'rolling'; did you mean 'canary'? (got 'canaryy')",
        "training.instance_typ: is not a known field; did you mean 'instance_type'? (got 'ml.m5.xlarge')",
    ]


def test_a_pipeline_class_missing_from_its_file_is_named_without_importing_the_file(tmp_path: Path) -> None:
    path = churn(tmp_path / "models", lambda data: data.update(pipeline_class="pipeline.py:ChurnPipelin"))
    (path.parent / "pipeline.py").write_text("raise SystemExit('never imported')\nclass ChurnPipeline:\n    pass\n")

    text = only_error(plan_models(tmp_path / "models", region="eu-west-1"))

    assert text == (
        f"pipeline_class: no class ChurnPipelin in {path.parent / 'pipeline.py'}; did you mean 'ChurnPipeline'? "
        "(classes there: ChurnPipeline) (got 'pipeline.py:ChurnPipelin')"
    )


def test_no_notification_email_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = churn(tmp_path / "models", lambda data: data.pop("notification_email"))

    plan = plan_models(tmp_path / "models", region="eu-west-1")

    assert plan.errors == []
    (warning,) = plan.warnings
    assert warning.path == path
    assert warning.text.startswith("notification_email: is not set: the model's SNS topic")


def test_a_folder_holding_only_model_yaml_gets_its_folder_problems_as_warnings(tmp_path: Path) -> None:
    # examples/ holds such configurations, to be copied into models/<name>/ with their code
    data = example_config_data("iris-sklearn")
    del data["pipeline_class"]
    path = write_model(tmp_path, "iris-example", data)

    plan = plan_models(tmp_path, region="eu-west-1")

    assert plan.errors == []
    fields = [warning.field for warning in plan.warnings_of(path)]
    assert fields == [
        "name",
        "source.path",
        "training.entry_point",
        "preprocessing.script",
        "evaluation.job.script",
        "notification_email",
    ]
    assert all("a warning while the folder holds only model.yaml" in w.text for w in plan.warnings[:-1])


def test_every_error_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = churn(models, lambda data: data["training"].update(instance_type="ml.m5.huge", instance_count=0))
    fraud = example_config_data("fraud-batch")
    fraud["training"]["hyperparameters"].pop("num_round")
    second = write_model_with_code(models, fraud)

    plan = plan_models(models, region="eu-west-1")

    assert [(problem.path, problem.field) for problem in plan.errors] == [
        (first, "training.instance_count"),
        (second, "training.hyperparameters.num_round"),
    ]
    with pytest.raises(ValueError) as raised:
        plan.raise_for_errors()
    assert str(first) in str(raised.value) and str(second) in str(raised.value)


def test_the_plan_places_each_model_and_names_its_stacks(tmp_path: Path) -> None:
    churn(tmp_path / "models")
    iris = example_config_data("iris-sklearn")
    del iris["pipeline_class"]
    write_model_with_code(tmp_path / "models", iris)

    plan = plan_models(tmp_path / "models", region="eu-west-1", account="111111111111")

    assert plan.errors == []
    assert plan.names == ["churn-xgb", "iris-sklearn"]
    assert plan.models["churn-xgb"].stack_names["Production"] == "Mlops-churn-xgb-Production"
    placement = plan.models["iris-sklearn"].placement
    assert placement is not None
    assert (placement.account, placement.region, placement.platform_key) == (
        "222222222222",
        "eu-west-1",
        "222222222222",
    )
    assert plan.models["churn-xgb"].training_image == (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )


def test_an_unknown_model_in_only_is_an_error_listing_the_known_ones(tmp_path: Path) -> None:
    churn(tmp_path / "models")

    plan = plan_models(tmp_path / "models", only=["churn-xbg"], region="eu-west-1")

    assert only_error(plan) == "models: no model named churn-xbg (known: churn-xgb)"


def test_the_plan_never_starts_the_cdk_runtime() -> None:
    script = (
        "import sys\n"
        "from cdk_mlops.plan import plan_models\n"
        f"plan = plan_models({str(REPO_ROOT / 'tests' / 'fixtures' / 'models')!r}, region='eu-west-1')\n"
        "assert plan.errors == [], plan.errors\n"
        "print(sorted(plan.models), 'aws_cdk' in sys.modules, 'jsii' in sys.modules)\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "['churn-xgb', 'fraud-batch', 'iris-sklearn'] False False"
