"""Run a DAG of the dags folder once with `dag.test()`, in a process of its own (Airflow sets up
logging, its database and dlt's folders process-wide). The test starts it with the emulator's
tenant, an empty AIRFLOW_HOME and a dags folder in the environment; it prints one JSON line with
what it saw.

    python tests/e2e/airflow_run_dag.py <module in the dags folder> <dag id>
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def main(module_name: str, dag_id: str) -> int:
    started = time.monotonic()
    from airflow.utils.db import initdb

    initdb()  # Airflow's sqlite database, in AIRFLOW_HOME
    db_seconds = time.monotonic() - started

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    sys.path.insert(0, str(dags))  # as Airflow's DAG processor has it
    module = importlib.import_module(module_name)
    dag = module.dag
    assert dag.dag_id == dag_id, dag.dag_id
    run_started = time.monotonic()
    run = dag.test(logical_date=datetime.now(UTC))
    run_seconds = time.monotonic() - run_started
    instances = run.get_task_instances()
    states = {ti.task_id: str(ti.state) for ti in instances}
    durations = {ti.task_id: round(ti.duration or 0.0, 1) for ti in instances}
    upstream = {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}
    trigger_rules = {t.task_id: getattr(t.trigger_rule, "value", t.trigger_rule) for t in dag.tasks}
    print(
        json.dumps(
            {
                "tasks": sorted(dag.task_ids),
                "run_state": str(run.state),
                "task_states": states,
                "upstream": upstream,
                "task_seconds": durations,
                "trigger_rules": trigger_rules,
                "db_seconds": round(db_seconds, 1),
                "run_seconds": round(run_seconds, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
