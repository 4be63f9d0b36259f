// The SDK's unit tests (npm test): compile tests/fixture.ts with the pinned
// compiler and check decoding, encoding and placeholder numbering through
// the ABI, as the host calls it.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { load, check } from "./abi.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(mkdtempSync(join(tmpdir(), "sy-as-")), "fixture.wasm");
execFileSync(join(here, "..", "node_modules", ".bin", "asc"),
  [join(here, "fixture.ts"), "--exportStart", "_initialize", "--use", "abort=", "--runtime", "stub", "-O3", "-o", out], { stdio: "inherit" });
const p = await load(out);

check("name, version and kinds", [p.name, p.version, p.kinds], ["sdk-fixture", "9.9.9", 3]);
const ups = [
  { name: "a", healthy: true, ttfbUs: 300 },
  { name: "b", healthy: false, ttfbUs: 100 },
  { name: "c", healthy: true, ttfbUs: 200 },
  { name: "skip-é", healthy: true, ttfbUs: 1 },
];
check("route orders the healthy by ttfb", p.route({ model: "m" }, ups), [2, 0]);
check("route reads the model without allocating", p.route({ model: "first-only" }, ups), [2]);
check("route compares non-ASCII tenants", p.route({ tenant: "ü" }, ups), []);
check("route reads headers", p.route({ headers: [["user-agent", "x"], ["x-pick", "1"]] }, ups), [1]);
check("empty table", p.route({}, []), []);
const big = Array.from({ length: 256 }, (_, i) => ({ name: `u${i}`, healthy: i % 2 === 0, ttfbUs: 1000 - i }));
check("256 upstreams", p.route({}, big).slice(0, 3), [254, 252, 250]);
let threw = false;
try { p.route({ headers: [["x-pick", "7"]] }, ups); } catch (e) { threw = /code 1/.test(e.message); }
check("an out-of-range index fails the call", threw, true);
check("redact numbers per kind and reuses placeholders",
  p.redact("a secret, a pin, a secret"),
  { body: "a <SECRET_1>, a <PIN_1>, a <SECRET_1>", pairs: [["<SECRET_1>", "secret"], ["<PIN_1>", "pin"]] });
check("redact skips taken placeholders", p.redact("secret", ["<SECRET_1>", "<SECRET_2>"]),
  { body: "<SECRET_3>", pairs: [["<SECRET_3>", "secret"]] });
check("nothing matched", p.redact("nothing here"), null);
const body = "x".repeat(1 << 20) + " secret";
check("1 MiB body", p.redact(body).pairs, [["<SECRET_1>", "secret"]]);
