"""The library way in, as a user's own script writes it: no process settings, no environment.

    python benchmarks/library_user.py BASE_URL USERNAME PASSWORD WORKDIR JOB_CODE...

bench_end_to_end.py runs it in a fresh process with its working directory at WORKDIR, so that
`destination="duckdb"` makes `<pipeline_name>.duckdb` there, as it would in a user's project.
The only arguments beyond the user's own are the emulator's address and a short poll interval
(the emulator's jobs end in a fraction of a second).
"""

import sys

import dlt

from uniware_source import UniwareCredentials, uniware_source


def main(base_url: str, username: str, password: str, workdir: str, job_codes: list[str]) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination="duckdb",
        dataset_name="uniware_data",
        pipelines_dir=f"{workdir}/pipelines",
    )
    source = uniware_source(
        job_codes=job_codes,
        base_url=base_url,
        credentials=UniwareCredentials(username=username, password=password),
        poll_interval=0.1,
        max_poll_interval=0.5,
    )
    pipeline.run(source)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
