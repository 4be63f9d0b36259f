// abi.mjs: run a Switchyard ABI v1 module in Node, as the host would, for
// tests of AssemblyScript plugins and of this SDK: encode a record, call the
// hook once, decode the result.
import { readFile } from "node:fs/promises";

const enc = new TextEncoder();
const dec = new TextDecoder();

class Writer {
  constructor() { this.bytes = []; }
  u32(v) { this.bytes.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255); }
  f32(v) { const b = new Uint8Array(new Float32Array([v]).buffer); this.bytes.push(...b); }
  str(s) { const b = typeof s === "string" ? enc.encode(s) : s; this.u32(b.length); for (const c of b) this.bytes.push(c); }
  done() { return Uint8Array.from(this.bytes); }
}

/** routeRecord encodes a request view and an upstream table (docs/abi.md §4). */
export function routeRecord(req, ups) {
  const w = new Writer();
  w.u32((req.stream ? 1 : 0) | (req.deterministic ? 2 : 0));
  w.u32(req.promptTokens ?? 0);
  for (const k of ["model", "tenant", "path", "pop", "region"]) w.str(req[k] ?? "");
  const headers = req.headers ?? [];
  w.u32(headers.length);
  for (const [k, v] of headers) { w.str(k); w.str(v); }
  w.u32(ups.length);
  for (const u of ups) {
    w.str(u.name ?? ""); w.str(u.provider ?? ""); w.str(u.region ?? "");
    w.u32(u.healthy ? 1 : 0); w.u32(u.latencyUs ?? 0); w.u32(u.ttfbUs ?? 0); w.u32(u.inFlight ?? 0);
    w.f32(u.errorRate ?? 0); w.f32(u.priceIn ?? 0); w.f32(u.priceOut ?? 0); w.u32(u.weight ?? 1);
  }
  return w.done();
}

/** redactRecord encodes a body and the taken placeholders (docs/abi.md §5). */
export function redactRecord(body, taken = []) {
  const w = new Writer();
  w.u32(0);
  w.str(body);
  w.u32(taken.length);
  for (const t of taken) w.str(t);
  return w.done();
}

/** load instantiates a module the way the host does and returns its hooks. */
export async function load(path, config = "{}") {
  const logs = [];
  let memory;
  const { instance } = await WebAssembly.instantiate(await readFile(path), {
    switchyard: { log: (level, p, n) => logs.push(dec.decode(new Uint8Array(memory.buffer, p, n))) },
  });
  const x = instance.exports;
  memory = x.memory;
  if (x.switchyard_abi_version() !== 1) throw new Error("not an ABI v1 module");
  if (x._initialize) x._initialize();
  const cfg = enc.encode(config);
  const cp = x.alloc(cfg.length);
  new Uint8Array(memory.buffer).set(cfg, cp);
  const rc = x.init(cp, cfg.length);
  if (rc !== 0) throw new Error(`init returned ${rc}`);
  let buf = x.alloc(65536), cap = 65536;
  const str = (r) => dec.decode(new Uint8Array(memory.buffer, Number(r >> 32n), Number(r & 0xffffffffn)));
  const call = (hook, rec) => {
    if (rec.length > cap) { cap = rec.length * 2; buf = x.alloc(cap); }
    new Uint8Array(memory.buffer).set(rec, buf);
    const r = x[hook](buf, rec.length);
    if (r < 0n) throw new Error(`${hook} failed with code ${-r}`);
    return [Number(r >> 32n), Number(r & 0xffffffffn)];
  };
  return {
    name: str(x.plugin_name()),
    version: str(x.plugin_version()),
    kinds: x.plugin_kinds ? x.plugin_kinds() : 0,
    logs,
    /** route returns the candidate indices ([] = no opinion). */
    route(req, ups) {
      const [p, n] = call("route", routeRecord(req, ups));
      const v = new DataView(memory.buffer, p, n);
      return Array.from({ length: n / 4 }, (_, i) => v.getUint32(i * 4, true));
    },
    /** redact returns null (nothing matched) or { body, pairs: [[placeholder, original]] }. */
    redact(body, taken = []) {
      const [p, n] = call("redact", redactRecord(body, taken));
      if (n === 0) return null;
      const v = new DataView(memory.buffer, p, n);
      let o = 0;
      const s = () => { const l = v.getUint32(o, true); const t = dec.decode(new Uint8Array(memory.buffer, p + o + 4, l)); o += 4 + l; return t; };
      const out = s();
      const pairs = [];
      for (let k = v.getUint32(o, true), i = (o += 4, 0); i < k; i++) pairs.push([s(), s()]);
      if (o !== n) throw new Error("trailing bytes in redact output");
      return { body: out, pairs };
    },
  };
}

/** check throws when got and want differ (as JSON). */
export function check(what, got, want) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
  console.log(`ok   ${what}`);
}
