// Drives a running Switchyard with the official npm `openai` client: one chat
// completion and one stream, for the model given. Prints one JSON line with
// what it saw; exits non-zero on any failure. Usage: node client.mjs BASE_URL MODEL
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey: "client-key", maxRetries: 0, timeout: 10000 });
const messages = [{ role: "user", content: "Hello from node" }];

const res = await client.chat.completions.create({ model, messages });
let streamed = "";
let finish = null;
let usage = null;
const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? "";
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
console.log(JSON.stringify({ content: res.choices[0].message.content, streamed, finish, usage: usage?.total_tokens ?? 0 }));
