"""di-ops: the domain library shared by every DAG of the project."""
