"""Engine-specific code beside DuckDB: the PostgreSQL types and databases (postgres.py), the raw zone
loaded into PostgreSQL (raw_postgres.py) and exposed to Spark (raw_spark.py). It reads the raw zone
that ingestion writes; orchestration (the dbt step, publish) calls it."""
