// Retrieve RUN_ID and report the run or the error, with how long it took.
import { configure, runs } from "@trigger.dev/sdk";
import { outcome, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

report(await outcome(() => runs.retrieve(process.env.RUN_ID)));
