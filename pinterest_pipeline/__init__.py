"""Pinterest-style data pipeline: source DB, gateway, lake, Spark jobs."""
