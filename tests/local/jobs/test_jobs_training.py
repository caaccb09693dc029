"""Training jobs run for real from the CreateTrainingJob request: SageMaker's container contract, metric
regexes, failures and the model artifact.

The contract follows aws/sagemaker-training-toolkit (ENVIRONMENT_VARIABLES.md, environment.py,
mapping.py); metrics follow "Define metrics and environment variables"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-metrics-variables.html);
the model archive location follows CreateTrainingJob's OutputDataConfig.S3OutputPath
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_OutputDataConfig.html).
"""

from __future__ import annotations

import json

from jobs_testing import BUCKET, Harness, training_request, untar

CONTRACT_SCRIPT = """
import json, os, sys
names = [n for n in os.environ if n.startswith("SM_")] + ["TRAINING_JOB_NAME", "CURRENT_HOST", "PYTHONPATH"]
config = "/opt/ml/input/config/"
report = {
    "env": {n: os.environ.get(n) for n in names},
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "files": sorted(os.path.relpath(os.path.join(d, f), "/opt/ml/input/data")
                    for d, _, fs in os.walk("/opt/ml/input/data") for f in fs),
    "hyperparameters": json.load(open(config + "hyperparameters.json")),
    "inputdataconfig": json.load(open(config + "inputdataconfig.json")),
    "resourceconfig": json.load(open(config + "resourceconfig.json")),
}
with open("/opt/ml/model/contract.json", "w") as out:
    json.dump(report, out)
"""


def _contract(jobs: Harness) -> dict:
    jobs.put_source({"train.py": CONTRACT_SCRIPT})
    jobs.put("data/train/part-1.csv", "1,2\n")
    jobs.put("data/train/nested/part-2.csv", "3,4\n")
    jobs.put("data/validation/v.csv", "5,6\n")
    request = training_request(
        "contract-job",
        hyperparameters={"n_estimators": "100", "max_depth": "4", "criterion": '"gini"'},
        channels={"train": f"s3://{BUCKET}/data/train/", "validation": f"s3://{BUCKET}/data/validation"},
        content_type="text/csv",
    )
    described = jobs.train(request)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model = untar(jobs.get("models/contract-job/output/model.tar.gz"))
    return json.loads(model["contract.json"])


def test_training_script_gets_sagemaker_environment_variables(stdlib_jobs: Harness) -> None:
    env = _contract(stdlib_jobs)["env"]
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNELS"] == '["train","validation"]'
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_CHANNEL_VALIDATION"] == "/opt/ml/input/data/validation"
    assert json.loads(env["SM_HPS"]) == {"n_estimators": 100, "max_depth": 4, "criterion": "gini"}
    assert env["SM_HP_N_ESTIMATORS"] == "100"
    assert env["SM_HP_CRITERION"] == "gini"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert json.loads(env["SM_USER_ARGS"]) == ["--criterion", "gini", "--max_depth", "4", "--n_estimators", "100"]
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_DIR"] == f"s3://{BUCKET}/code/sourcedir.tar.gz"
    assert env["TRAINING_JOB_NAME"] == "contract-job"
    assert env["PYTHONPATH"] == "/opt/ml/code"


def test_training_script_gets_hyperparameters_as_sorted_command_line_arguments(stdlib_jobs: Harness) -> None:
    report = _contract(stdlib_jobs)
    assert report["argv"] == ["--criterion", "gini", "--max_depth", "4", "--n_estimators", "100"]
    assert report["cwd"] == "/opt/ml/code"


def test_training_channels_hold_every_object_under_the_prefix_at_its_relative_key(stdlib_jobs: Harness) -> None:
    assert _contract(stdlib_jobs)["files"] == ["train/nested/part-2.csv", "train/part-1.csv", "validation/v.csv"]


def test_training_config_files_are_written_as_sagemaker_writes_them(stdlib_jobs: Harness) -> None:
    report = _contract(stdlib_jobs)
    assert report["hyperparameters"]["max_depth"] == "4"  # the request's strings, as sent
    assert report["hyperparameters"]["sagemaker_program"] == '"train.py"'
    assert report["inputdataconfig"]["train"] == {
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
        "ContentType": "text/csv",
    }
    assert report["resourceconfig"]["current_host"] == "algo-1"
    assert report["resourceconfig"]["hosts"] == ["algo-1"]
    assert report["resourceconfig"]["current_instance_type"] == "ml.m5.large"


def test_metric_definitions_give_final_metric_data_list_with_the_last_value_emitted(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source(
        {
            "train.py": 'import sys\nprint("epoch 1 accuracy=0.50")\nprint("accuracy=0.93 loss=nan")\n'
            'print("loss: 0.25", file=sys.stderr)\nprint("accuracy=n/a")\n'
        }
    )
    stdlib_jobs.put("data/train/a.csv", "1\n")
    request = training_request(
        "metrics-job",
        metric_definitions={"accuracy": r"accuracy=(\S+)", "loss": r"loss: ([0-9.]+)", "never": r"f1=([0-9.]+)"},
    )
    described = stdlib_jobs.train(request)
    metrics = {item["MetricName"]: item["Value"] for item in described["FinalMetricDataList"]}
    assert metrics == {"accuracy": 0.93, "loss": 0.25}


def test_failing_script_fails_the_job_with_algorithm_error_and_the_exception_text(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source({"train.py": 'print("starting")\nraise ValueError("the label column is missing")\n'})
    stdlib_jobs.put("data/train/a.csv", "1\n")
    described = stdlib_jobs.train(training_request("failing-job"))
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage ")
    assert "ValueError: the label column is missing" in reason
    assert reason.endswith(", exit code: 1")
    assert "ModelArtifacts" not in described or not described["ModelArtifacts"]
    run = stdlib_jobs.runner.runs[-1]
    assert (run.status, run.failure_reason) == ("Failed", reason)
    assert "ValueError: the label column is missing" in run.log_path.read_text()  # type: ignore[union-attr]


def test_failure_file_written_by_the_script_is_the_failure_reason(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source(
        {"train.py": 'open("/opt/ml/output/failure", "w").write("not enough rows: 3")\nraise SystemExit(2)\n'}
    )
    stdlib_jobs.put("data/train/a.csv", "1\n")
    described = stdlib_jobs.train(training_request("failure-file-job"))
    assert described["FailureReason"] == "AlgorithmError: not enough rows: 3, exit code: 2"


def test_model_dir_is_packed_into_model_tar_gz_under_s3_output_path(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source(
        {
            "train.py": 'import os\nos.makedirs("/opt/ml/model/sub")\nopen("/opt/ml/model/model.bin", "w").write("weights")\n'
            'open("/opt/ml/model/sub/extra.txt", "w").write("x")\n'
        }
    )
    stdlib_jobs.put("data/train/a.csv", "1\n")
    described = stdlib_jobs.train(training_request("artifact-job"))
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/models/artifact-job/output/model.tar.gz"
    assert untar(stdlib_jobs.get("models/artifact-job/output/model.tar.gz")) == {
        "model.bin": b"weights",
        "sub/extra.txt": b"x",
    }


def test_script_output_is_logged_per_job_and_streamed_line_by_line(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source({"train.py": 'print("hello from training")\n'})
    stdlib_jobs.put("data/train/a.csv", "1\n")
    stdlib_jobs.train(training_request("log-job"))
    run = stdlib_jobs.runner.runs[-1]
    assert run.log_path is not None and "hello from training" in run.log_path.read_text()
    assert "[log-job] hello from training" in stdlib_jobs.lines
    assert stdlib_jobs.lines[0] == "training job log-job: started"
    assert stdlib_jobs.lines[-1].startswith("training job log-job: Completed (")


def test_built_in_algorithm_other_than_xgboost_is_refused_with_a_clear_reason(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put("data/train/a.csv", "1\n")
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    described = stdlib_jobs.train(training_request("linear-job", image=image, entry_point=None))
    assert described["TrainingJobStatus"] == "Failed"
    assert f"cannot run built-in algorithm image '{image}'" in described["FailureReason"]


def test_empty_channel_fails_the_job_as_sagemaker_does(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source({"train.py": "pass\n"})
    described = stdlib_jobs.train(training_request("empty-channel-job"))
    assert described["FailureReason"] == f'ClientError: No S3 objects found under S3 URL "s3://{BUCKET}/data/train/"'


def test_scripted_rule_still_wins_over_the_runner(stdlib_jobs: Harness) -> None:
    from cdk_mlops.local.scenario import JobOutcome

    stdlib_jobs.engine.sagemaker.script_training_job(JobOutcome.failed("scripted"), name_contains="scripted")
    described = stdlib_jobs.train(training_request("scripted-job"))
    assert described["FailureReason"] == "scripted"
    assert stdlib_jobs.runner.runs == []


def test_sync_training_state_sees_the_real_outcome(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put_source(
        {"train.py": 'import os\nif os.environ["SM_HP_FAIL"] == "true":\n    raise RuntimeError("bad data")\n'}
    )
    stdlib_jobs.put("data/train/a.csv", "1\n")
    parameters = training_request("placeholder", hyperparameters={"fail.$": "$.fail"})
    del parameters["TrainingJobName"]
    parameters["TrainingJobName.$"] = "$.name"
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    completed = stdlib_jobs.engine.run(definition, {"name": "sync-ok", "fail": "false"})
    failed = stdlib_jobs.engine.run(definition, {"name": "sync-bad", "fail": "true"})
    assert completed.succeeded
    assert not failed.succeeded
    assert failed.error == "States.TaskFailed"
    assert "RuntimeError: bad data" in json.loads(failed.cause or "{}")["FailureReason"]
