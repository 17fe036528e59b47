// Reschedule a delayed run, then try to reschedule one that is not delayed.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { outcome, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const delayed = await tasks.trigger("hello-world", { name: "Later" }, { delay: "1h" });
const before = await runs.retrieve(delayed.id);
const rescheduled = await runs.reschedule(delayed.id, { delay: "2h" });

const done = await tasks.trigger("hello-world", { name: "Now" });
await runs.poll(done, { pollIntervalMs: 200 });
const refused = await outcome(() => runs.reschedule(done.id, { delay: "1h" }));

report({ before, rescheduled, after: await runs.retrieve(delayed.id), refused });
