"""Domain capabilities, one package each: a service (commands + read models) and thin tasks."""
