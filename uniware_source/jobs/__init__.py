"""Export jobs: a job and its status, the poll backoff, the poller, and the job ledger.

What the other stages use is re-exported here; the modules behind it are this folder's own.
"""

from uniware_source.jobs.poller import (
    Backoff,
    ExportJob,
    JobFeeder,
    JobPoller,
    Outcome,
    Phase,
    PollSettings,
    classify,
)

__all__ = ["Backoff", "ExportJob", "JobFeeder", "JobPoller", "Outcome", "Phase", "PollSettings", "classify"]
