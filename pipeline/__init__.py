"""The one path of call events from the call tracker (and the CDR sweep) to the stages
that act on them: `CallPipeline` with its `Stage`s, each declaring its order, its retry
policy and whether it runs on the leader only."""

from pipeline.lanes import CallPipeline, PipelineStats
from pipeline.stage import NO_RETRY, CallEventHandler, Origin, RetryPolicy, Stage

__all__ = [
    "NO_RETRY",
    "CallEventHandler",
    "CallPipeline",
    "Origin",
    "PipelineStats",
    "RetryPolicy",
    "Stage",
]
