// cheapest-healthy: a Switchyard routing plugin in AssemblyScript. It sends a
// request to the healthy upstreams ordered by price (input + output price per
// million tokens), then by latency, like examples/plugins/go/cheapest-healthy;
// with no healthy upstream it has no opinion.
import { plugin, Request, Upstream, UpstreamTable, Decision } from "../../../../../sdk/assemblyscript/assembly/index";
export * from "../../../../../sdk/assemblyscript/assembly/exports";

function cheaper(a: Upstream, b: Upstream): bool {
  const pa = a.priceIn + a.priceOut, pb = b.priceIn + b.priceOut;
  if (pa != pb) return pa < pb;
  return a.latencyUs < b.latencyUs;
}

function route(req: Request, ups: UpstreamTable, out: Decision): void {
  for (let i = 0; i < ups.length; i++) {
    if (ups.at(i).healthy) out.push(i);
  }
  out.sortBy(ups, cheaper);
}

plugin("cheapest-healthy", "1.0.0").route(route);
