// Package limits owns the client side of a PoP's accounting: managed virtual
// keys (Keys), per-minute rate limits and per-period budgets (Limiter).
//
// Lifetimes follow DESIGN §2. A Keys and a Limiter belong to the router's
// instance and live as long as the process; the counters they hold survive
// config reloads. What a config decides — the numbers — is a Rules value built
// once per generation with Limiter.Rules; a reload builds new Rules over the
// same counters, so new numbers apply to the usage already counted.
//
// The request path, in the order the core calls it:
//
//	identify: k, err := keys.Lookup(bearer)            // O(1), no allocation
//	          k.AllowsEndpoint(path)
//	parse:    k.AllowsModel(model)
//	          res, d := rules.Tenant(k.Tenant).Reserve(k, Estimate{...})
//	          if !d.Allowed() { write d.Status(), d.AppendErrorBody, d.WriteHeaders }
//	respond:  d.WriteHeaders(&ctx.Response.Header)
//	stream:   res.Observe(inSoFar, outSoFar)           // excess counts at once
//	record:   res.Settle(Usage{...})                   // or res.Cancel()
//
// docs/limits.md describes the configuration, the headers, the algorithm and
// the key file; docs/RATIONALE.md ("Keys, rate limits and budgets") the why.
package limits
