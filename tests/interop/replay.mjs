// Replay a finished run: a new run of the same task with the same payload.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const original = await tasks.trigger(
  "hello-world",
  { name: "Again" },
  { tags: ["replayed"] },
);
await runs.poll(original, { pollIntervalMs: 200 });
const replayed = await runs.replay(original.id);

report({
  original: await runs.retrieve(original.id),
  response: replayed,
  replay: await runs.poll(replayed.id, { pollIntervalMs: 200 }),
});
