// Triggers the server must refuse: a tag over 128 characters and 11 tags.
import { configure, tasks } from "@trigger.dev/sdk";
import { outcome, report } from "./common.mjs";

configure({
  baseURL: process.env.TRIGGER_API_URL,
  secretKey: process.env.TRIGGER_SECRET_KEY,
});

const longTag = "t".repeat(129);
const elevenTags = Array.from({ length: 11 }, (_, i) => `tag-${i}`);

const triggerWithTags = (tags) => tasks.trigger("hello-world", {}, { tags });

report({
  longTag: await outcome(() => triggerWithTags([longTag])),
  elevenTags: await outcome(() => triggerWithTags(elevenTags)),
});
