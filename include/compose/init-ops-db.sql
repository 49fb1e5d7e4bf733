-- Creates the di-ops operations database beside Airflow's metadata database.
--
-- Run once by the postgres image (docker-entrypoint-initdb.d), as the superuser
-- POSTGRES_USER, only when the data volume is still empty. Changing the password in
-- .env later does not change it here: see docs/compose.md ("Resetting").
--
-- The password comes from the container environment (DI_OPS_DB_PASSWORD, set from
-- .env by docker-compose.yaml); \getenv needs psql 15 or newer (the image is 16).
\set ON_ERROR_STOP on
\getenv di_ops_password DI_OPS_DB_PASSWORD

-- A role of its own: the ops pipelines never hold the metadata DB's credentials.
CREATE ROLE di_ops LOGIN PASSWORD :'di_ops_password';
CREATE DATABASE di_ops OWNER di_ops;

-- Each role reaches only its own database.
REVOKE ALL ON DATABASE di_ops FROM PUBLIC;
REVOKE CONNECT ON DATABASE airflow FROM PUBLIC;
