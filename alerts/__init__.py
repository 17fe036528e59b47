"""Alerts: a webhook and e-mails per environment when a run fails for good."""
