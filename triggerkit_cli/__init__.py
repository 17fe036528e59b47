"""The `triggerkit` command line: run the platform, manage keys, read and act on runs.

`triggerkit --help` lists the commands; docs/cli.md describes them and their exit
codes (see `triggerkit_cli.exits`).
"""
