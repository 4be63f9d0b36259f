// Guest SDK for Switchyard plugins in AssemblyScript (ABI v1, docs/abi.md).
//
// A plugin's entry file registers its hooks at top level and re-exports the
// ABI exports:
//
//   import { plugin, Request, UpstreamTable, Decision } from "@switchyard/sdk";
//   export * from "@switchyard/sdk/assembly/exports";
//
//   function route(req: Request, ups: UpstreamTable, out: Decision): void {
//     for (let i = 0; i < ups.length; i++) if (ups.at(i).healthy) out.push(i);
//   }
//   plugin("healthy-first", "1.0.0").route(route);
//
// built with `asc assembly/index.ts --exportStart _initialize --use abort= -O3 -o plugin.wasm`.
//
// The SDK owns the ABI: it decodes the host's input record into views that
// read the record in place (Request, UpstreamTable, Body) and encodes the
// Decision or Redaction. Its objects and buffers are allocated once per
// instance and reused, so a call allocates nothing unless the hook does
// (the string getters, e.g. Request.model, allocate: compare with modelIs).

// @ts-ignore: decorator
@external("switchyard", "log")
declare function hostLog(level: i32, ptr: usize, len: u32): void;

/** Log levels, the same numbers as Go's log/slog. */
export namespace Level {
  /** Debug (-4). */
  export const Debug: i32 = -4;
  /** Info (0). */
  export const Info: i32 = 0;
  /** Warn (4). */
  export const Warn: i32 = 4;
  /** Error (8). */
  export const Error: i32 = 8;
}

/** Writes one line to the host log. Never log request content. */
export function log(level: i32, msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(level, changetype<usize>(b), <u32>b.byteLength);
}

/** ABI v1 error codes: a hook returns one negated, init one as is. */
export namespace ErrorCode {
  /** A generic failure inside the plugin. */
  export const Failed: i32 = 1;
  /** The input record could not be decoded. */
  export const BadInput: i32 = 2;
  /** The hook is exported but nothing is registered for it. */
  export const NotHandled: i32 = 3;
  /** init refused the config. */
  export const BadConfig: i32 = 4;
}

/** Reports whether the n UTF-8 bytes at p spell s, without allocating. */
export function utf8Equals(p: usize, n: u32, s: string): bool {
  let j: u32 = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < len) {
      const d = <u32>s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) {
      if (j >= n || load<u8>(p + j) != <u8>c) return false;
      j++;
    } else if (c < 0x800) {
      if (j + 2 > n || load<u8>(p + j) != <u8>(0xc0 | (c >> 6)) || load<u8>(p + j + 1) != <u8>(0x80 | (c & 0x3f))) return false;
      j += 2;
    } else if (c < 0x10000) {
      if (j + 3 > n || load<u8>(p + j) != <u8>(0xe0 | (c >> 12)) || load<u8>(p + j + 1) != <u8>(0x80 | ((c >> 6) & 0x3f)) ||
        load<u8>(p + j + 2) != <u8>(0x80 | (c & 0x3f))) return false;
      j += 3;
    } else {
      if (j + 4 > n || load<u8>(p + j) != <u8>(0xf0 | (c >> 18)) || load<u8>(p + j + 1) != <u8>(0x80 | ((c >> 12) & 0x3f)) ||
        load<u8>(p + j + 2) != <u8>(0x80 | ((c >> 6) & 0x3f)) || load<u8>(p + j + 3) != <u8>(0x80 | (c & 0x3f))) return false;
      j += 4;
    }
  }
  return j == n;
}

/** Bounds-checked reader over a record; a read past the end sets bad. */
export class Reader {
  /** Next byte to read. */
  p: usize = 0;
  /** End of the record. */
  end: usize = 0;
  /** A read went past the end. */
  bad: bool = false;
  /** Last string read: its start and length. */
  sp: usize = 0;
  /** Last string read: its length. */
  sn: u32 = 0;

  /** Points the reader at n bytes at p. */
  reset(p: usize, n: u32): void {
    this.p = p;
    this.end = p + n;
    this.bad = false;
  }

  /** Reads a little-endian u32. */
  u32(): u32 {
    if (this.bad || this.end - this.p < 4) {
      this.bad = true;
      return 0;
    }
    const v = load<u32>(this.p);
    this.p += 4;
    return v;
  }

  /** Reads a length-prefixed string into sp/sn. */
  str(): void {
    const n = this.u32();
    if (this.bad || <usize>(this.end - this.p) < <usize>n) {
      this.bad = true;
      this.sp = 0;
      this.sn = 0;
      return;
    }
    this.sp = this.p;
    this.sn = n;
    this.p += n;
  }
}

/** The routing view of one request, read in place from the record. */
export class Request {
  /** The client asked for a streamed answer. */
  stream: bool = false;
  /** The answer may be cached (temperature 0 or a seed). */
  deterministic: bool = false;
  /** Estimated prompt tokens (body bytes / 4). */
  promptTokens: i32 = 0;
  /** Number of selected request headers. */
  headerCount: u32 = 0;
  /** @internal */ _model: usize = 0;
  /** @internal */ _modelLen: u32 = 0;
  /** @internal */ _tenant: usize = 0;
  /** @internal */ _tenantLen: u32 = 0;
  /** @internal */ _path: usize = 0;
  /** @internal */ _pathLen: u32 = 0;
  /** @internal */ _pop: usize = 0;
  /** @internal */ _popLen: u32 = 0;
  /** @internal */ _region: usize = 0;
  /** @internal */ _regionLen: u32 = 0;
  /** @internal */ _headers: usize = 0;
  /** @internal */ _headersEnd: usize = 0;

  /** Public model name the client asked for (allocates a string). */
  get model(): string { return String.UTF8.decodeUnsafe(this._model, this._modelLen); }
  /** The tenant (allocates a string). */
  get tenant(): string { return String.UTF8.decodeUnsafe(this._tenant, this._tenantLen); }
  /** Request path, e.g. "/v1/chat/completions" (allocates a string). */
  get path(): string { return String.UTF8.decodeUnsafe(this._path, this._pathLen); }
  /** Name of the PoP routing the request (allocates a string). */
  get pop(): string { return String.UTF8.decodeUnsafe(this._pop, this._popLen); }
  /** The PoP's region (allocates a string). */
  get region(): string { return String.UTF8.decodeUnsafe(this._region, this._regionLen); }

  /** Reports whether the model is s, without allocating. */
  modelIs(s: string): bool { return utf8Equals(this._model, this._modelLen, s); }
  /** Reports whether the tenant is s, without allocating. */
  tenantIs(s: string): bool { return utf8Equals(this._tenant, this._tenantLen, s); }
  /** Reports whether the PoP's region is s, without allocating. */
  regionIs(s: string): bool { return utf8Equals(this._region, this._regionLen, s); }

  /** The value of the first header named name (lower case), or null. Allocates the result. */
  header(name: string): string | null {
    const r = headerReader;
    r.reset(this._headers, <u32>(this._headersEnd - this._headers));
    for (let i: u32 = 0; i < this.headerCount; i++) {
      r.str();
      const match = utf8Equals(r.sp, r.sn, name);
      r.str();
      if (r.bad) return null;
      if (match) return String.UTF8.decodeUnsafe(r.sp, r.sn);
    }
    return null;
  }
}

const headerReader = new Reader();

/** One row of the live upstream table, read in place from the record. */
export class Upstream {
  /** Health as the router sees it now. */
  healthy: bool = false;
  /** EWMA of whole-answer latency, µs. */
  latencyUs: u32 = 0;
  /** EWMA of time to first byte, µs. */
  ttfbUs: u32 = 0;
  /** Attempts in flight now. */
  inFlight: u32 = 0;
  /** EWMA of failed attempts, 0..1. */
  errorRate: f32 = 0;
  /** Price per million input tokens. */
  priceIn: f32 = 0;
  /** Price per million output tokens. */
  priceOut: f32 = 0;
  /** Configured weight. */
  weight: u32 = 0;
  /** @internal */ _name: usize = 0;
  /** @internal */ _nameLen: u32 = 0;
  /** @internal */ _provider: usize = 0;
  /** @internal */ _providerLen: u32 = 0;
  /** @internal */ _region: usize = 0;
  /** @internal */ _regionLen: u32 = 0;

  /** The upstream's configured name (allocates a string). */
  get name(): string { return String.UTF8.decodeUnsafe(this._name, this._nameLen); }
  /** The cloud: openai, azure, bedrock or vertex (allocates a string). */
  get provider(): string { return String.UTF8.decodeUnsafe(this._provider, this._providerLen); }
  /** The upstream's region (allocates a string). */
  get region(): string { return String.UTF8.decodeUnsafe(this._region, this._regionLen); }
  /** Reports whether the name is s, without allocating. */
  nameIs(s: string): bool { return utf8Equals(this._name, this._nameLen, s); }
  /** Reports whether the provider is s, without allocating. */
  providerIs(s: string): bool { return utf8Equals(this._provider, this._providerLen, s); }
  /** Reports whether the region is s, without allocating. */
  regionIs(s: string): bool { return utf8Equals(this._region, this._regionLen, s); }
}

/** The upstream table of one call. Its rows are reused across calls. */
export class UpstreamTable {
  /** Number of rows. */
  length: i32 = 0;
  /** @internal */ rows: Upstream[] = [];

  /** Row i (0 ≤ i < length). */
  at(i: i32): Upstream { return unchecked(this.rows[i]); }
}

/** The ordered candidate list a route hook fills: indices into the table,
 * best first. Empty = no opinion (the router's configured order applies). */
export class Decision {
  /** Number of candidates pushed. */
  length: i32 = 0;
  /** An out-of-range index was pushed: the call fails. */
  failed: bool = false;
  /** @internal */ buf: usize = 0;
  /** @internal */ cap: i32 = 0;
  /** @internal */ tableLen: i32 = 0;

  /** Appends upstream index i as the next candidate. */
  push(i: i32): void {
    if (<u32>i >= <u32>this.tableLen || this.length >= this.cap) {
      this.failed = true;
      return;
    }
    store<u32>(this.buf + (<usize>this.length << 2), <u32>i);
    this.length++;
  }

  /** Candidate k (0 = primary). */
  at(k: i32): i32 { return <i32>load<u32>(this.buf + (<usize>k << 2)); }

  /** Orders the candidates so that better(a, b) puts a first; equal
   * candidates keep their order (stable insertion sort; tables are small). */
  sortBy(ups: UpstreamTable, better: (a: Upstream, b: Upstream) => bool): void {
    for (let i = 1; i < this.length; i++) {
      const v = this.at(i);
      let j = i;
      while (j > 0 && better(ups.at(v), ups.at(this.at(j - 1)))) {
        store<u32>(this.buf + (<usize>j << 2), <u32>this.at(j - 1));
        j--;
      }
      store<u32>(this.buf + (<usize>j << 2), <u32>v);
    }
  }
}

/** The request body of a redact call, read in place. */
export class Body {
  /** Length in bytes. */
  length: i32 = 0;
  /** @internal */ ptr: usize = 0;

  /** Byte i, or 0 outside the body. */
  at(i: i32): u8 {
    if (<u32>i >= <u32>this.length) return 0;
    return load<u8>(this.ptr + <usize>i);
  }

  /** Index of the first byte c at or after from, or -1. It reads eight
   * bytes per step (the host charges fuel per loop iteration). */
  indexOf(c: u8, from: i32): i32 {
    let i = max(from, 0);
    const rep = <u64>c * 0x0101010101010101;
    while (i + 8 <= this.length) {
      const w = load<u64>(this.ptr + <usize>i) ^ rep;
      const z = (w - 0x0101010101010101) & ~w & 0x8080808080808080;
      if (z != 0) return i + <i32>(ctz(z) >> 3);
      i += 8;
    }
    for (; i < this.length; i++) {
      if (load<u8>(this.ptr + <usize>i) == c) return i;
    }
    return -1;
  }

  /** The bytes [start, end) as a string (allocates). */
  slice(start: i32, end: i32): string {
    return String.UTF8.decodeUnsafe(this.ptr + <usize>start, <usize>(end - start));
  }
}

/** Growable raw byte buffer outside the GC heap, reused across calls. */
export class Bytes {
  /** Start. */
  ptr: usize = 0;
  /** Bytes used. */
  len: u32 = 0;
  /** Capacity. */
  cap: u32 = 0;

  /** Makes room for n more bytes. */
  reserve(n: u32): void {
    if (this.len + n <= this.cap) return;
    let c = this.cap ? this.cap : 256;
    while (c < this.len + n) c <<= 1;
    this.ptr = this.ptr ? heap.realloc(this.ptr, c) : heap.alloc(c);
    this.cap = c;
  }

  /** Appends n bytes at p. */
  append(p: usize, n: u32): void {
    this.reserve(n);
    memory.copy(this.ptr + this.len, p, n);
    this.len += n;
  }

  /** Appends one byte. */
  byte(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + this.len, b);
    this.len++;
  }

  /** Appends a little-endian u32. */
  u32(v: u32): void {
    this.reserve(4);
    store<u32>(this.ptr + this.len, v);
    this.len += 4;
  }

  /** Appends s as UTF-8 without allocating (ASCII fast path; others encoded). */
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = <u32>s.charCodeAt(i);
      if (c < 0x80) this.byte(<u8>c);
      else if (c < 0x800) {
        this.byte(<u8>(0xc0 | (c >> 6)));
        this.byte(<u8>(0x80 | (c & 0x3f)));
      } else {
        this.byte(<u8>(0xe0 | (c >> 12)));
        this.byte(<u8>(0x80 | ((c >> 6) & 0x3f)));
        this.byte(<u8>(0x80 | (c & 0x3f)));
      }
    }
  }
}

/** Builds the rewritten body of one redact call and its placeholders.
 * Placeholders are <KIND_n>, numbered per kind from 1 in order of first
 * appearance, skipping numbers earlier redactors took; the same original
 * keeps its placeholder. */
export class Redaction {
  /** @internal */ out: Bytes = new Bytes(); // u32 body length, body, pairs
  /** @internal */ store: Bytes = new Bytes(); // placeholders and originals
  /** @internal */ pairs: Bytes = new Bytes(); // per pair: kind index, ph0, ph1, or0, or1 (u32 each)
  /** @internal */ kinds: string[] = [];
  /** @internal */ counts: u32[] = [];
  /** @internal */ body: Body = new Body();
  /** @internal */ taken: usize = 0;
  /** @internal */ takenEnd: usize = 0;
  /** @internal */ takenCount: u32 = 0;
  /** @internal */ nKinds: i32 = 0;

  /** Number of placeholders handed out. */
  get count(): i32 { return <i32>(this.pairs.len / 20); }

  /** Appends body bytes [start, end) to the rewritten body unchanged. */
  copy(start: i32, end: i32): void {
    if (start < 0 || end > this.body.length || start >= end) return;
    this.out.append(this.body.ptr + <usize>start, <u32>(end - start));
  }

  /** Appends the placeholder for body bytes [start, end) (the text as it
   * appears inside the JSON string) and records the pair. kind is upper case
   * by convention: EMAIL, PHONE, CARD. */
  replace(kind: string, start: i32, end: i32): void {
    if (start < 0 || end > this.body.length || start >= end) return;
    const op = this.body.ptr + <usize>start, on = <u32>(end - start);
    let k = 0;
    while (k < this.nKinds && unchecked(this.kinds[k]) != kind) k++;
    const np = this.pairs.len / 20;
    for (let i: u32 = 0; i < np; i++) {
      const e = this.pairs.ptr + i * 20;
      if (load<u32>(e) != <u32>k) continue;
      const o0 = load<u32>(e, 12), o1 = load<u32>(e, 16);
      if (o1 - o0 == on && memory.compare(this.store.ptr + o0, op, on) == 0) {
        this.out.append(this.store.ptr + load<u32>(e, 4), load<u32>(e, 8) - load<u32>(e, 4));
        return;
      }
    }
    if (k == this.nKinds) {
      if (k < this.kinds.length) {
        unchecked(this.kinds[k] = kind);
        unchecked(this.counts[k] = 0);
      } else {
        this.kinds.push(kind);
        this.counts.push(0);
      }
      this.nKinds++;
    }
    const ph0 = this.store.len;
    do {
      this.store.len = ph0;
      const n = unchecked(this.counts[k]) + 1;
      unchecked(this.counts[k] = n);
      this.store.byte(0x3c); // <
      this.store.ascii(kind);
      this.store.byte(0x5f); // _
      writeUint(this.store, n);
      this.store.byte(0x3e); // >
    } while (this.isTaken(this.store.ptr + ph0, this.store.len - ph0));
    const ph1 = this.store.len;
    this.store.append(op, on);
    this.pairs.u32(<u32>k);
    this.pairs.u32(ph0);
    this.pairs.u32(ph1);
    this.pairs.u32(ph1);
    this.pairs.u32(this.store.len);
    this.out.append(this.store.ptr + ph0, ph1 - ph0);
  }

  /** @internal */
  isTaken(p: usize, n: u32): bool {
    const r = takenReader;
    r.reset(this.taken, <u32>(this.takenEnd - this.taken));
    for (let i: u32 = 0; i < this.takenCount; i++) {
      r.str();
      if (r.bad) return false;
      if (r.sn == n && memory.compare(r.sp, p, n) == 0) return true;
    }
    return false;
  }
}

const takenReader = new Reader();

function writeUint(b: Bytes, n: u32): void {
  let d: u32 = 1;
  while (n / d >= 10) d *= 10;
  while (d > 0) {
    b.byte(<u8>(0x30 + (n / d) % 10));
    d /= 10;
  }
}

/** A route hook: push the chosen upstreams into out, best first. */
export type RouteFn = (req: Request, ups: UpstreamTable, out: Decision) => void;
/** A redact hook: copy kept text and replace redacted spans into out. */
export type RedactFn = (body: Body, out: Redaction) => void;
/** Receives the plugin's config (JSON) once per instance; false refuses it. */
export type InitFn = (config: string) => bool;

function noRoute(req: Request, ups: UpstreamTable, out: Decision): void {}
function noRedact(body: Body, out: Redaction): void {}
function acceptConfig(config: string): bool { return true; }

/** The plugin declared with plugin(); its methods register the hooks. */
export class Plugin {
  /** @internal */ name: ArrayBuffer = new ArrayBuffer(0);
  /** @internal */ version: ArrayBuffer = new ArrayBuffer(0);
  /** @internal */ routeFn: RouteFn = noRoute;
  /** @internal */ redactFn: RedactFn = noRedact;
  /** @internal */ initFn: InitFn = acceptConfig;
  /** @internal */ kinds: i32 = 0;

  /** Registers the route hook. */
  route(f: RouteFn): Plugin {
    this.routeFn = f;
    this.kinds |= 1;
    return this;
  }

  /** Registers the redact hook. */
  redact(f: RedactFn): Plugin {
    this.redactFn = f;
    this.kinds |= 2;
    return this;
  }

  /** Registers the config hook. */
  init(f: InitFn): Plugin {
    this.initFn = f;
    return this;
  }
}

/** The registered plugin (one per module). @internal */
export const registered = new Plugin();

/** Declares the plugin's name and version; chain .route / .redact / .init. */
export function plugin(name: string, version: string): Plugin {
  registered.name = String.UTF8.encode(name);
  registered.version = String.UTF8.encode(version);
  return registered;
}

// Per-instance state, allocated once.
const reader = new Reader();
const request = new Request();
const table = new UpstreamTable();
const decision = new Decision();
const redaction = new Redaction();

/** Decodes a route record and runs the hook; the packed ABI result. @internal */
export function runRoute(ptr: usize, len: u32): i64 {
  if ((registered.kinds & 1) == 0) return -ErrorCode.NotHandled;
  const r = reader;
  r.reset(ptr, len);
  const req = request;
  const flags = r.u32();
  req.stream = (flags & 1) != 0;
  req.deterministic = (flags & 2) != 0;
  req.promptTokens = <i32>r.u32();
  r.str(); req._model = r.sp; req._modelLen = r.sn;
  r.str(); req._tenant = r.sp; req._tenantLen = r.sn;
  r.str(); req._path = r.sp; req._pathLen = r.sn;
  r.str(); req._pop = r.sp; req._popLen = r.sn;
  r.str(); req._region = r.sp; req._regionLen = r.sn;
  req.headerCount = r.u32();
  req._headers = r.p;
  for (let i: u32 = 0; i < req.headerCount && !r.bad; i++) {
    r.str();
    r.str();
  }
  req._headersEnd = r.p;
  const n = r.u32();
  if (r.bad || n > <u32>((r.end - r.p) / 44)) return -ErrorCode.BadInput;
  const t = table;
  while (<u32>t.rows.length < n) t.rows.push(new Upstream());
  for (let i: u32 = 0; i < n; i++) {
    const u = unchecked(t.rows[i]);
    r.str(); u._name = r.sp; u._nameLen = r.sn;
    r.str(); u._provider = r.sp; u._providerLen = r.sn;
    r.str(); u._region = r.sp; u._regionLen = r.sn;
    u.healthy = (r.u32() & 1) != 0;
    u.latencyUs = r.u32();
    u.ttfbUs = r.u32();
    u.inFlight = r.u32();
    u.errorRate = reinterpret<f32>(r.u32());
    u.priceIn = reinterpret<f32>(r.u32());
    u.priceOut = reinterpret<f32>(r.u32());
    u.weight = r.u32();
  }
  if (r.bad || r.p != r.end) return -ErrorCode.BadInput;
  t.length = <i32>n;
  const d = decision;
  if (d.cap < <i32>n) {
    d.buf = d.buf ? heap.realloc(d.buf, <usize>n << 2) : heap.alloc(<usize>n << 2);
    d.cap = <i32>n;
  }
  d.length = 0;
  d.failed = false;
  d.tableLen = <i32>n;
  registered.routeFn(req, t, d);
  if (d.failed) {
    log(Level.Error, "route: candidate index out of range");
    return -ErrorCode.Failed;
  }
  if (d.length == 0) return 0;
  return pack(d.buf, <u32>d.length << 2);
}

/** Decodes a redact record and runs the hook; the packed ABI result. @internal */
export function runRedact(ptr: usize, len: u32): i64 {
  if ((registered.kinds & 2) == 0) return -ErrorCode.NotHandled;
  const r = reader;
  r.reset(ptr, len);
  r.u32(); // flags, reserved
  r.str();
  const x = redaction;
  x.body.ptr = r.sp;
  x.body.length = <i32>r.sn;
  const taken = r.u32();
  if (r.bad || taken > <u32>((r.end - r.p) / 4)) return -ErrorCode.BadInput;
  x.taken = r.p;
  x.takenCount = taken;
  for (let i: u32 = 0; i < taken && !r.bad; i++) r.str();
  if (r.bad || r.p != r.end) return -ErrorCode.BadInput;
  x.takenEnd = r.p;
  x.out.len = 0;
  x.out.u32(0);
  x.store.len = 0;
  x.pairs.len = 0;
  x.nKinds = 0;
  registered.redactFn(x.body, x);
  const np = x.pairs.len / 20;
  if (np == 0) return 0;
  store<u32>(x.out.ptr, x.out.len - 4);
  x.out.u32(np);
  for (let i: u32 = 0; i < np; i++) {
    const e = x.pairs.ptr + i * 20;
    const p0 = load<u32>(e, 4), p1 = load<u32>(e, 8), o0 = load<u32>(e, 12), o1 = load<u32>(e, 16);
    x.out.u32(p1 - p0);
    x.out.append(x.store.ptr + p0, p1 - p0);
    x.out.u32(o1 - o0);
    x.out.append(x.store.ptr + o0, o1 - o0);
  }
  return pack(x.out.ptr, x.out.len);
}

/** Packs a pointer and length into an ABI result. @internal */
export function pack(p: usize, n: u32): i64 {
  return <i64>((<u64>p << 32) | <u64>n);
}
