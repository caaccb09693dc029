"""SageMaker jobs and endpoints executed for real on this machine, from the requests a workflow sends.

:class:`LocalJobRunner` (``runner``) is the entry point; one module per job kind does the work:
``training`` (script mode), ``xgboost_builtin`` (a stand-in for the built-in XGBoost algorithm),
``processing``, ``transform`` and ``serving``; ``contract`` holds SageMaker's container contract (paths
and ``SM_*`` variables) and ``sandbox`` presents a job's workspace at ``/opt/ml``.
"""

from cdk_mlops.local.jobs.runner import ContainerResolver, JobRun, LineCallback, LocalJobRunner

__all__ = ["ContainerResolver", "JobRun", "LineCallback", "LocalJobRunner"]
