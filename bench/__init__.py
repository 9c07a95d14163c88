"""salesdw benchmarks (`make bench`): the pipeline against a plain-DuckDB floor and plain pandas."""
