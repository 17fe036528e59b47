// A payload with a Date and a BigInt goes out as SuperJSON and comes back as
// plain JSON.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const payload = {
  when: new Date("2030-01-02T03:04:05.678Z"),
  big: 12345678901234567890n,
  plain: "text",
};
const handle = await tasks.trigger("echo", payload);
const run = await runs.poll(handle, { pollIntervalMs: 200 });

report({ run });
