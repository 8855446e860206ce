"""Export jobs: a job and its status, the poll backoff, the poller, and the job ledger.

What the other stages use is re-exported here; the modules behind it are this folder's own.
"""

from uniware_source.jobs.backoff import Backoff, PollSettings
from uniware_source.jobs.job import ExportJob
from uniware_source.jobs.poller import JobPoller
from uniware_source.jobs.ports import JobFeeder
from uniware_source.jobs.status import Outcome, Phase, classify

__all__ = ["Backoff", "ExportJob", "JobFeeder", "JobPoller", "Outcome", "Phase", "PollSettings", "classify"]
