// Trigger with every option a backend caller commonly sets, then read the runs back.
import { configure, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const key = await idempotencyKeys.create(process.env.KEY);
const triggeredAt = new Date();
const full = await tasks.trigger("hello-world", { name: "Options" }, {
  tags: ["user:123", "org:9"],
  metadata: { step: "start", nested: { a: 1 } },
  concurrencyKey: "user_123",
  queue: "paid-users",
  delay: "1h",
  ttl: "30m",
  maxAttempts: 5,
  idempotencyKey: key,
  idempotencyKeyTTL: "1h",
  priority: 10,
  machine: "small-2x",
});
const solo = await tasks.trigger(
  "hello-world",
  { name: "Solo" },
  { tags: "solo", delay: "1h" },
);
const once = await tasks.trigger("always-fails", {}, { maxAttempts: 1 });

const inQueue = await runs.list({ queue: { type: "custom", name: "paid-users" } });
const onMachine = await runs.list({ machine: "small-2x" });

report({
  key,
  triggeredAt,
  full: await runs.retrieve(full.id),
  solo: await runs.retrieve(solo.id),
  once: await runs.poll(once, { pollIntervalMs: 200 }),
  inQueue: inQueue.data.map((run) => run.id),
  onMachine: onMachine.data.map((run) => run.id),
});
