// A plugin that exercises the whole SDK surface, for tests/run.mjs.
import { plugin, Request, Upstream, UpstreamTable, Decision, Body, Redaction } from "../assembly/index";
export * from "../assembly/exports";

function faster(a: Upstream, b: Upstream): bool {
  return a.ttfbUs < b.ttfbUs;
}

// route: healthy upstreams by ttfb; a request for model "first-only" gets
// just the first one, tenant "ü" gets no opinion, header x-pick: n gets n.
function route(req: Request, ups: UpstreamTable, out: Decision): void {
  if (req.tenantIs("ü")) return;
  const pick = req.header("x-pick");
  if (pick != null) {
    out.push(I32.parseInt(pick));
    return;
  }
  for (let i = 0; i < ups.length; i++) if (ups.at(i).healthy && !ups.at(i).nameIs("skip-é")) out.push(i);
  out.sortBy(ups, faster);
  if (req.modelIs("first-only") && out.length > 1) out.length = 1;
}

// redact: every "secret" word becomes <SECRET_n>, every "pin" <PIN_n>.
function redact(body: Body, out: Redaction): void {
  let last = 0;
  for (let i = 0; i < body.length; i++) {
    if (body.at(i) == 0x73 && body.slice(i, min(i + 6, body.length)) == "secret") {
      out.copy(last, i);
      out.replace("SECRET", i, i + 6);
      last = i + 6;
    } else if (body.at(i) == 0x70 && body.slice(i, min(i + 3, body.length)) == "pin") {
      out.copy(last, i);
      out.replace("PIN", i, i + 3);
      last = i + 3;
    }
  }
  out.copy(last, body.length);
}

plugin("sdk-fixture", "9.9.9").route(route).redact(redact);
