// Large payloads and outputs with the official SDK: it uploads payloads of
// 128 KB and more itself (PUT /api/v2/packets, then the presigned URL) and
// downloads presigned payloads and outputs on runs.retrieve.
//
// SCENARIO: "round-trip" (a 2 MB payload through the echo task),
// "big-output" (a task returning OUTPUT_SIZE characters), "too-large" (one
// payload over 10 MB), "batch-too-large" (six payloads adding up to over 10 MB).
import { createHash } from "node:crypto";
import { configure, runs, tasks } from "@trigger.dev/sdk";
import { input, outcome, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

// The same characters as tests/storage/tasks.py `pattern`.
const PATTERN = "0123456789abcdefghijklmnopqrstuvwxyz";
const pattern = (size) => PATTERN.repeat(Math.ceil(size / PATTERN.length) + 1).slice(0, size);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const MB = 1024 * 1024;

async function roundTrip() {
  const payload = { blob: pattern(2 * MB), n: 1 };
  const handle = await tasks.trigger("echo", payload);
  const run = await runs.poll(handle, { pollIntervalMs: 200 });
  return {
    id: handle.id,
    status: run.status,
    payloadMatches: JSON.stringify(run.payload) === JSON.stringify(payload),
    outputMatches: JSON.stringify(run.output) === JSON.stringify(payload),
    payloadBytes: JSON.stringify(payload).length,
  };
}

async function bigOutput() {
  const size = input("OUTPUT_SIZE");
  const handle = await tasks.trigger("storage-big-output", { size });
  const run = await runs.poll(handle, { pollIntervalMs: 200 });
  return {
    id: handle.id,
    status: run.status,
    outputLength: typeof run.output === "string" ? run.output.length : null,
    outputSha256: typeof run.output === "string" ? sha256(run.output) : null,
    expectedSha256: sha256(pattern(size)),
  };
}

async function tooLarge() {
  return await outcome(() => tasks.trigger("echo", { blob: pattern(10 * MB) }));
}

async function batchTooLarge() {
  const items = Array.from({ length: 6 }, (_, i) => ({
    payload: { blob: pattern(Math.floor(1.8 * MB)), i },
  }));
  return await outcome(() => tasks.batchTrigger("echo", items));
}

const scenarios = {
  "round-trip": roundTrip,
  "big-output": bigOutput,
  "too-large": tooLarge,
  "batch-too-large": batchTooLarge,
};
report(await scenarios[process.env.SCENARIO]());
