"""Metrics (/metrics for Prometheus) and the logging setup shared by web, worker and beat."""
