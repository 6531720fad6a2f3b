-- Runs once, when the postgresql volume is initialised (docker-entrypoint-initdb.d), as POSTGRES_USER.
-- The app database comes from POSTGRES_DB (duban). Temporal needs two more: temporal-sql-tool only
-- creates tables, and temporal-schema.sh deliberately does not create databases so it can re-run safely.
CREATE DATABASE temporal;
CREATE DATABASE temporal_visibility;
