// List runs with filters, one page at a time and with `for await` auto-pagination.
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const tag = "listed";
const since = new Date();
const delayed = [];
for (let i = 0; i < 5; i++) {
  delayed.push((await tasks.trigger("noop", { i }, { tags: [tag], delay: "1h" })).id);
}
const untagged = await tasks.trigger("noop", { i: 5 }, { delay: "1h" });
const completed = await tasks.trigger(
  "hello-world",
  { name: "Listed" },
  { tags: [tag, "done"] },
);
await runs.poll(completed, { pollIntervalMs: 200 });

const filtered = [];
const filters = { status: "DELAYED", taskIdentifier: "noop", tag, limit: 2 };
for await (const run of runs.list(filters)) {
  filtered.push(run.id);
}

const pages = [];
for await (const page of (await runs.list({ limit: 3 })).iterPages()) {
  pages.push(page.data.map((run) => run.id));
}

const byTag = await runs.list({ tag: ["done", "nothing-has-this"], limit: 2 });
const byStatus = await runs.list({ status: ["COMPLETED", "FAILED"] });
const inWindow = await runs.list({ from: since, to: new Date(), period: "1h" });
const beforeWindow = await runs.list({ to: since });

report({
  delayed,
  untagged: untagged.id,
  completed: completed.id,
  filtered,
  pages,
  byTag: { ids: byTag.data.map((run) => run.id), hasNextPage: byTag.hasNextPage() },
  byStatus: byStatus.data,
  inWindow: inWindow.data.length,
  beforeWindow: beforeWindow.data.length,
});
