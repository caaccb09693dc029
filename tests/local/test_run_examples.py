"""Every model in models/ runs end to end with ``cdk-mlops run``: its own code on its sample data, real
metrics through its gate, registered (and, for an endpoint model, smoke-tested on staging).

Generic over whatever models/ holds (no model is named here); models without a ``sample_data/`` folder
are reported by the pre-flight, which is a failure too: every example must be runnable locally.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cdk_mlops.local.run import run_model

MODELS = Path(__file__).resolve().parents[2] / "models"
EXAMPLES = sorted(path.parent.name for path in MODELS.glob("*/model.yaml"))


@pytest.mark.parametrize("model", EXAMPLES)
def test_every_example_model_runs_and_passes_its_gate_with_real_metrics(model: str) -> None:
    out = io.StringIO()

    report = run_model(model, models_dir=MODELS, out=out)

    assert report.exit_code == 0, out.getvalue()
    assert report.outcome.startswith("registered arn:aws:sagemaker:"), report.outcome
    assert report.gates and all(gate.passed and gate.value is not None for gate in report.gates)
    assert report.jobs and all(job.status == "Completed" for job in report.jobs)
    training_metrics = {name: value for job in report.jobs for name, value in job.metrics.items()}
    for gate in report.gates:
        if gate.metric in training_metrics:  # a gate on a training metric reads what the job reported
            assert gate.value == pytest.approx(training_metrics[gate.metric])
