// Every schedules.* call of the official SDK, then the refusals it must see.
// Input: DECLARATIVE_ID, a declarative schedule of the environment.
import { configure, schedules } from "@trigger.dev/sdk";
import { outcome, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const zones = await schedules.timezones();
const zonesWithoutUtc = await schedules.timezones({ excludeUtc: true });

const created = await schedules.create({
  task: "echo",
  cron: "0 8 * * *",
  deduplicationKey: "interop-user-1",
  externalId: "user-1",
  timezone: "Europe/Paris",
});
const upserted = await schedules.create({
  task: "echo",
  cron: "*/30 * * * *",
  deduplicationKey: "interop-user-1",
  externalId: "user-1",
});
const other = await schedules.create({
  task: "echo",
  cron: "0 0 * * 1",
  deduplicationKey: "interop-user-2",
});

const firstPage = await schedules.list({ perPage: 2 });
const everyId = [];
for await (const schedule of schedules.list({ perPage: 1 })) {
  everyId.push(schedule.id);
}

const byId = await schedules.retrieve(created.id);
const byKey = await schedules.retrieve("interop-user-1");
const updated = await schedules.update(created.id, {
  task: "echo",
  cron: "15 10 * * *",
  timezone: "Asia/Tokyo",
  externalId: "user-1b",
});
const deactivated = await schedules.deactivate(created.id);
const activated = await schedules.activate(created.id);
const deleted = await schedules.del(other.id);
const afterDelete = await outcome(() => schedules.retrieve(other.id));

const base = { task: "echo", cron: "0 8 * * *", deduplicationKey: "refused" };
const refused = {
  invalidCron: await outcome(() => schedules.create({ ...base, cron: "61 * * * *" })),
  seconds: await outcome(() => schedules.create({ ...base, cron: "0 8 * * * *" })),
  unknownZone: await outcome(() => schedules.create({ ...base, timezone: "Mars/Olympus" })),
  notScheduled: await outcome(() => schedules.create({ ...base, task: "hello-world" })),
  declarative: await outcome(() =>
    schedules.update(process.env.DECLARATIVE_ID, { task: "echo", cron: "0 10 * * *" }),
  ),
  missingKey: await outcome(() => schedules.create({ task: "echo", cron: "0 8 * * *" })),
};
const remaining = await schedules.list();

report({
  zones: { count: zones.timezones.length, first: zones.timezones[0], hasParis: zones.timezones.includes("Europe/Paris") },
  zonesWithoutUtc: { hasUtc: zonesWithoutUtc.timezones.includes("UTC"), count: zonesWithoutUtc.timezones.length },
  created,
  upserted,
  other,
  firstPage: { ids: firstPage.data.map((s) => s.id), pagination: firstPage.pagination },
  everyId,
  byId,
  byKey,
  updated,
  deactivated,
  activated,
  deleted,
  afterDelete,
  refused,
  remaining: { ids: remaining.data.map((s) => s.id), count: remaining.pagination.count },
});
