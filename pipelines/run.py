"""The scheduled command, for `python pipelines/run.py` from a checkout: see `uniware_source.cli`.

python pipelines/run.py                       # the configured exports (and job codes), into DuckDB
python pipelines/run.py --plan                # the jobs a run would create; creates nothing
python pipelines/run.py --backfill 2024-04-01 2024-04-30   # a past range; cursors stay put
python pipelines/run.py --demo                # against an in-process Uniware emulator
"""

from uniware_source.cli import entry

if __name__ == "__main__":
    entry()
