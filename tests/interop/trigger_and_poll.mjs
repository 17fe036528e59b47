// Trigger TASK with PAYLOAD, poll the run until it finishes, then retrieve it.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { input, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const handle = await tasks.trigger(process.env.TASK, input("PAYLOAD"));
const polled = await runs.poll(handle, { pollIntervalMs: 200 });
const retrieved = await runs.retrieve(handle.id);

report({ handle, polled, retrieved });
