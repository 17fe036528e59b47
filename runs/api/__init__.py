"""The HTTP API, wire-compatible with Trigger.dev's public API (see API.md)."""
