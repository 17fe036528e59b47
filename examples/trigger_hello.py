"""Trigger the hello-world example and wait for its output.

    export TRIGGER_SECRET_KEY=tr_dev_…   # printed by `manage.py up`
    export TRIGGER_API_URL=http://localhost:8000
    python examples/trigger_hello.py Ada
"""

import sys

from triggerkit import tasks

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    run = tasks.trigger_and_poll("hello-world", {"name": name}, poll_interval=0.2, timeout=60)
    print(run.id, run.status.value, run.output["message"])
