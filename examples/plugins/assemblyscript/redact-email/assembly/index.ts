// redact-email: a Switchyard redaction plugin in AssemblyScript. It replaces
// e-mail addresses in the request body by <EMAIL_1>, <EMAIL_2>, … (the same
// address keeps its placeholder); the router restores them in the answer. The
// matcher is the one of examples/plugins/go/redact-email, byte for byte, so
// both pass the same conformance vectors.
import { plugin, Body, Redaction } from "../../../../../sdk/assemblyscript/assembly/index";
export * from "../../../../../sdk/assemblyscript/assembly/exports";

function isAlnum(c: u8): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}
function isLocal(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x25 || c == 0x2b || c == 0x2d; // . _ % + -
}
function isDomain(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x2d;
}

let matchStart = 0;
let matchEnd = 0;

// email finds the address around the '@' at `at` into matchStart/matchEnd.
// It works on JSON text: a backslash escape glued to the local part is not
// part of the address.
function email(b: Body, at: i32): bool {
  let s = at;
  while (s > 0 && isLocal(b.at(s - 1))) s--;
  let bs = 0;
  while (s - bs > 0 && b.at(s - bs - 1) == 0x5c) bs++;
  if (bs % 2 == 1) s += b.at(s) == 0x75 ? 5 : 1; // \uXXXX or \n
  if (s >= at) return false;
  let e = at + 1;
  let dot = -1;
  while (e < b.length && isDomain(b.at(e))) {
    if (b.at(e) == 0x2e) dot = e;
    e++;
  }
  while (e > at + 1 && (b.at(e - 1) == 0x2e || b.at(e - 1) == 0x2d)) {
    e--;
    if (dot == e) {
      dot = -1;
      for (let j = at + 1; j < e; j++) if (b.at(j) == 0x2e) dot = j;
    }
  }
  if (dot <= at + 1 || e - dot < 3) return false;
  for (let j = dot + 1; j < e; j++) {
    const c = b.at(j) | 0x20;
    if (c < 0x61 || c > 0x7a) return false;
  }
  matchStart = s;
  matchEnd = e;
  return true;
}

function redact(body: Body, out: Redaction): void {
  let last = 0;
  let i = 0;
  while (i < body.length) {
    const at = body.indexOf(0x40, i); // @
    if (at < 0) break;
    if (!email(body, at)) {
      i = at + 1;
      continue;
    }
    out.copy(last, matchStart);
    out.replace("EMAIL", matchStart, matchEnd);
    last = i = matchEnd;
  }
  out.copy(last, body.length);
}

plugin("redact-email", "1.0.0").redact(redact);
