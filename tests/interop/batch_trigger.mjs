// batchTrigger 20 items (two phases: create, then a chunked NDJSON stream), then
// wait for the batch to list its runs and for every run to finish.
import { batch, configure, runs, tasks } from "@trigger.dev/sdk";
import { report, sleep } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const items = Array.from({ length: 20 }, (_, i) => ({
  payload: { numbers: [i, 100] },
}));
const result = await tasks.batchTrigger("add-numbers", items);

let listed = await batch.retrieve(result.batchId);
for (let tries = 0; listed.runs.length < items.length && tries < 100; tries++) {
  await sleep(200);
  listed = await batch.retrieve(result.batchId);
}

const finished = [];
for (const id of listed.runs) {
  const run = await runs.poll(id, { pollIntervalMs: 200 });
  const { status, payload, output, batchId, triggerFunction } = run;
  finished.push({ id, status, payload, output, batchId, triggerFunction });
}

report({ result, listed, finished, final: await batch.retrieve(result.batchId) });
