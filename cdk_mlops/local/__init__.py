"""Offline execution of the project's Step Functions state machines (moto-based local engine)."""
