"""An Airflow DAG for the scheduled exports: one task per export and facility, on any worker.

Copy this file into Airflow's dags folder, with `.dlt/config.toml` and `.dlt/secrets.toml` in
`<dags folder>/.dlt/` (dlt's Airflow helper reads its settings there), and install
`uniware-dlt[airflow,postgres]` on the workers. Edit the constants below.

Each `[[sources.uniware.exports]]` entry with listed facilities becomes one task per facility,
each a dlt pipeline of its own (`uniware_sale_orders_wh_blr`), so a big tenant's windows run on
several workers at once; a snapshot export, or `facilities = "all"`, stays one task
(`uniware_source.orchestrate`). Every task starts from a fresh working folder and restores its
state from the destination, where the job ledger lives too; like the command, it runs batch
after batch until no window is left. A task fails when the run could not load (like the
command's exit 2) or when some job ended without its data (exit 1); the jobs are in
`export_jobs` either way, and a retry or the next run reads the missing windows again (except a
QUARANTINED job's: its rows are in the table's quarantine table, and only that run's task fails).

Keep to one run at a time (`max_active_runs=1`, below) and to one scheduler per dataset: the
`uniware` command's run lock covers one machine, not Airflow's workers.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.helpers.airflow_helper import PipelineTasksGroup
from dlt.pipeline.state_sync import load_pipeline_state_from_destination

from uniware_source import ConfigurationError, uniware_source
from uniware_source.incremental.run import backlog
from uniware_source.orchestrate import ExportUnit, MissingData, missing_jobs, split_exports, unit_names

logger = logging.getLogger("uniware_source.airflow")

# -- edit for your deployment -----------------------------------------------------------------
DAG_ID = "uniware"
SCHEDULE = "@hourly"
# a warehouse every worker reaches; a DuckDB file is for one machine and one task at a time
DESTINATION = "postgres"
DATASET = "uniware_data"
PIPELINE_PREFIX = "uniware"  # pipelines and tasks are named <prefix>_<table>_<facility>
# an Airflow pool caps the tasks running at once: the tenant sees up to
# pool slots x max_jobs_in_flight export jobs (Uniware has run 6 at once)
POOL: str | None = None


class UniwareTasksGroup(PipelineTasksGroup):
    """dlt's task group, whose tasks run batch after batch until no window is left, like the
    command, and fail when a job of their run is missing data."""

    def __init__(self, group_id: str, **kwargs: Any) -> None:
        super().__init__(group_id, **kwargs)
        self.units: dict[str, ExportUnit] = {}

    # the parameters spelled out: Airflow hands a callable that takes **kwargs its whole context
    def _run(
        self,
        pipeline: dlt.Pipeline,
        data: Any,
        table_name: str | None = None,
        write_disposition: Any = None,
        loader_file_format: Any = None,
        schema_contract: Any = None,
        pipeline_name: str | None = None,
        on_before_run: Any = None,
        truncate_staging_destination: bool | None = None,
    ) -> None:
        started = datetime.now(UTC)
        left, loaded = 1, 1
        while left and loaded:  # a long backfill: one commit per batch, until nothing is left
            super()._run(
                pipeline,
                data,
                table_name=table_name,  # type: ignore[arg-type]
                write_disposition=write_disposition,
                loader_file_format=loader_file_format,
                schema_contract=schema_contract,
                pipeline_name=pipeline_name,  # type: ignore[arg-type]
                on_before_run=on_before_run,
                truncate_staging_destination=truncate_staging_destination,
            )
            left, loaded = backlog(stored_state(pipeline))
            if left and loaded:
                logger.info("%d window(s) left for the next batch; running it", left)
        missing = missing_jobs(pipeline, self.units[pipeline.pipeline_name], started)
        if missing:
            raise MissingData(
                f"{len(missing)} job(s) ended without their data in their table; a retry or the next run "
                "reads a failed job's window again, and a QUARANTINED job's rows stay in the table's "
                "quarantine table (export_jobs.message says why): " + "; ".join(missing)
            )


def stored_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The pipeline's state as its last run committed it to the destination (the task's working
    folder is gone by then)."""
    try:
        with pipeline.destination_client() as client:
            state = load_pipeline_state_from_destination(pipeline.pipeline_name, client)  # type: ignore[arg-type]
    except DestinationUndefinedEntity:  # nothing was ever committed
        return {}
    return dict(state or {})


def unit_source(entry: dict[str, Any]) -> Any:
    """The source of one unit, built on the worker right before its run (settings and secrets are
    read there, not when the scheduler parses this file). Job codes are for the command only.
    A batch with a missing job does not raise by itself: the task runs its remaining batches
    first, then fails naming every missing job of all of them (`UniwareTasksGroup._run`)."""
    return uniware_source(exports=[entry], job_codes=[], fail_on_missing_jobs=False)


def build_dag(
    *,
    dag_id: str = DAG_ID,
    schedule: str | None = SCHEDULE,
    destination: Any = DESTINATION,
    dataset_name: str = DATASET,
    prefix: str = PIPELINE_PREFIX,
    pool: str | None = POOL,
    serialize_first_task: bool = True,
    **dag_args: Any,
) -> DAG:
    """The DAG of the configured exports. `serialize_first_task`: the first task runs alone, then
    the others side by side, as in dlt's own parallel decomposition, so that a first run creates
    the dataset and dlt's tables once. They run whatever became of the first (a window failing on
    the tenant must not hold the other exports back); a last task, `done`, fails the DAG run if any
    of them failed."""
    dag_args = {
        "start_date": datetime(2024, 1, 1, tzinfo=UTC),
        "catchup": False,  # the source plans its windows from its cursors, not the run's dates
        "max_active_runs": 1,
        # a task tried again re-reads the windows its run missed
        "default_args": {"retries": 2, "retry_delay": timedelta(minutes=5)},
        "tags": ["uniware", "dlt"],
        **dag_args,
    }
    with DAG(dag_id, schedule=schedule, **dag_args) as dag:
        # before any pipeline: it points dlt's data and project folders for this worker
        group = UniwareTasksGroup(prefix, use_data_folder=False, wipe_local_data=True)
        units = split_exports(
            dlt.config.get("sources.uniware.exports", list) or [],
            default_facility=dlt.config.get("sources.uniware.facility", str),
        )
        if not units:
            raise ConfigurationError(
                "the DAG has nothing to run: configure [[sources.uniware.exports]] in "
                "<dags folder>/.dlt/config.toml (or SOURCES__UNIWARE__EXPORTS)"
            )
        serialize = serialize_first_task and len(units) > 1
        tasks = []
        for position, (name, unit) in enumerate(zip(unit_names(units, prefix), units, strict=True)):
            group.units[name] = unit
            pipeline = dlt.pipeline(pipeline_name=name, destination=destination, dataset_name=dataset_name)
            data = functools.partial(unit_source, dict(unit.entry))
            task_args: dict[str, Any] = {"pool": pool} if pool else {}
            if serialize and position:
                task_args["trigger_rule"] = "all_done"
            tasks += group.add_run(pipeline, data, decompose="none", **task_args)
        if serialize:
            tasks[0] >> tasks[1:]
            with group:  # Airflow judges a run by its last tasks
                tasks >> EmptyOperator(task_id="done")
    return dag


dag = build_dag()
