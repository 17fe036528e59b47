// Trigger twice with one idempotency key: the second call returns the first run.
import { configure, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const key = await idempotencyKeys.create(process.env.KEY);
const options = { idempotencyKey: key };
const first = await tasks.trigger("hello-world", { name: "Once" }, options);
const second = await tasks.trigger("hello-world", { name: "Twice" }, options);
const run = await runs.poll(first, { pollIntervalMs: 200 });

report({ key, first, second, run });
