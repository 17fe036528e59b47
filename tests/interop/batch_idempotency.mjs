// batchTrigger twice with one batch idempotency key: the second call gets the
// same batch back.
import { batch, configure, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const key = await idempotencyKeys.create(process.env.KEY);
const items = [1, 2, 3].map((n) => ({ payload: { numbers: [n] } }));
const first = await tasks.batchTrigger("add-numbers", items, { idempotencyKey: key });
const second = await tasks.batchTrigger("add-numbers", items, { idempotencyKey: key });

const listed = await batch.retrieve(first.batchId);
const created = await runs.list({ batch: first.batchId });

report({ key, first, second, listed, created: created.data.map((run) => run.id) });
