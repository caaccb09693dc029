"""Post-deployment smoke test for a SageMaker endpoint (Lambda asset; entry point ``handler.handler``)."""
