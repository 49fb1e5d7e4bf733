"""One module per pipeline's demo part; ``include.demo.runs`` discovers them.

A module may define any of:

- ``ENV: dict[str, str]`` — environment for Airflow (connections as ``AIRFLOW_CONN_*``);
  values may use ``{data_dir}`` and ``{repo}``;
- ``prepare(data_dir: Path) -> None`` — write the demo inputs before Airflow starts;
- ``SERVICES: list[list[str]]`` — commands run in the background for the demo's life
  (``{data_dir}``/``{repo}`` substituted), e.g. a lab server;
- ``DEMO_RUNS: list[tuple[str, dict]]`` — runs queued once Airflow's DB is ready (dag id, conf).
"""
