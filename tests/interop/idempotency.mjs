// Trigger twice with one idempotency key: the second call returns the first run.
import { configure, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({ baseURL: process.env.TRIGGER_API_URL, secretKey: process.env.TRIGGER_SECRET_KEY });

const key = await idempotencyKeys.create(process.env.KEY);
const first = await tasks.trigger("hello-world", { name: "Once" }, { idempotencyKey: key });
const second = await tasks.trigger("hello-world", { name: "Twice" }, { idempotencyKey: key });
const run = await runs.poll(first, { pollIntervalMs: 200 });

report({ key, first, second, run });
