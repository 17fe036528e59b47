// Helpers shared by the scenario scripts: read inputs, capture errors, print results.

export function input(name) {
  const raw = process.env[name];
  return raw === undefined ? undefined : JSON.parse(raw);
}

// Await a call and describe how it ended, the way a caller would see it.
export async function outcome(call) {
  const started = Date.now();
  try {
    const value = await call();
    return { value, elapsedMs: Date.now() - started };
  } catch (error) {
    return { error: describeError(error), elapsedMs: Date.now() - started };
  }
}

export function describeError(error) {
  return {
    class: error.constructor.name,
    name: error.name,
    status: error.status,
    message: error.message,
    shouldRetry: error.headers?.["x-should-retry"],
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function report(observed) {
  process.stdout.write(JSON.stringify(observed) + "\n");
}
