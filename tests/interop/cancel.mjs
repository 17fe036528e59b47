// Cancel a delayed run, then cancel a run that has already completed.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const delayed = await tasks.trigger("hello-world", { name: "Never" }, { delay: "1h" });
const canceledDelayed = await runs.cancel(delayed.id);

const done = await tasks.trigger("hello-world", { name: "Done" });
await runs.poll(done, { pollIntervalMs: 200 });
const canceledDone = await runs.cancel(done.id);

report({
  delayed: { response: canceledDelayed, run: await runs.retrieve(delayed.id) },
  done: { response: canceledDone, run: await runs.retrieve(done.id) },
});
