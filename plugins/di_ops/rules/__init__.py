"""Pure domain rules of DOMAIN.md: typed functions and frozen models, no Airflow, no clock."""
