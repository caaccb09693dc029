"""The model author's own tests: run by the pipeline's BuildAndTest stage before anything trains."""

from pathlib import Path

import yaml


def test_smoke_payload_has_one_value_per_feature():
    config = yaml.safe_load((Path(__file__).parent.parent / "model.yaml").read_text())
    assert len(config["smoke_test"]["payload"].split(",")) == 6
