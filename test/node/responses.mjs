// Drives a running Switchyard with the official npm `openai` client's
// Responses API: responses.create with a function-call round trip, then
// responses.stream. Prints one JSON line with what it saw; exits non-zero on
// any failure. Usage: node responses.mjs BASE_URL MODEL
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey: "client-key", maxRetries: 0, timeout: 20000 });
const tools = [{ type: "function", name: "exec_command", strict: false,
  parameters: { type: "object", properties: { cmd: { type: "string" } } } }];
const prompt = '[[call exec_command {"cmd":"echo hi"}]]';

const first = await client.responses.create({ model, tools, input: prompt });
const call = first.output.find((item) => item.type === "function_call");
const second = await client.responses.create({ model, tools, input: [
  { role: "user", content: prompt },
  { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
  { type: "function_call_output", call_id: call.call_id, output: "hi" },
] });

let deltas = "";
const stream = client.responses.stream({ model, input: "stream from node" });
stream.on("response.output_text.delta", (ev) => { deltas += ev.delta; });
const final = await stream.finalResponse();
console.log(JSON.stringify({ call: call.name, args: call.arguments, answer: second.output_text,
  streamed: deltas, final: final.output_text, usage: final.usage?.total_tokens ?? 0 }));
