"""The source database (the original's RDS): synthetic rows, their tables, seeding and row reads."""
