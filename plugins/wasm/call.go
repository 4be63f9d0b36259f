package wasm

import (
	"context"
	"errors"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/abi"
)

var (
	_ plugins.Router   = (*Plugin)(nil)
	_ plugins.Redactor = (*Plugin)(nil)
)

// errNoInstance is the cause of a call that found its slot empty because the
// instance meant for it failed to start; a refill is under way.
var errNoInstance = errors.New("no instance: the last start-up failed")

// get takes an instance from the pool, waiting for one while all are busy
// (the pool bounds the instances, and so the memory, of a plugin), until ctx
// ends. It never starts an instance: start-ups run in the background (see
// put), so no call waits for a guest's start-up code.
func (p *Plugin) get(ctx context.Context) (*instance, error) {
	for {
		var in *instance
		select {
		case in = <-p.slots:
		default:
			select {
			case in = <-p.slots:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		switch {
		case in == nil:
			// Its start-up failed: fail this call fast rather than make it
			// wait for another attempt, which runs in the background.
			p.startRefill()
			return nil, &callError{kind: ErrInstantiate, cause: errNoInstance}
		case in.retired.Load():
			// Replaced by a prewarmed successor, which is in the pool too.
			p.closeInstance(ctx, in)
			continue
		case in.gen != p.gen.Load():
			// The pool is being rebuilt after K failures in a row: an idle
			// instance from before does not serve another call.
			p.discard(in)
			continue
		}
		p.inUse.Add(1)
		return in, nil
	}
}

// put returns an instance to the pool after a call. After any error, or when
// the pool is being rebuilt, it is discarded and a replacement is started in
// the background. After max_calls calls, or when its memory grew above the
// recycle size, a replacement is prewarmed in the background while it keeps
// serving; it leaves the pool once its successor is in (see replace).
func (p *Plugin) put(in *instance, failed bool) {
	p.inUse.Add(-1)
	in.calls++
	switch {
	case failed || in.gen != p.gen.Load():
		p.discard(in)
		return
	case in.retired.Load():
		p.closeInstance(context.Background(), in)
		return
	case (in.calls >= p.cfg.MaxCalls || in.mem.Size() > p.recycleSize) && !in.replacing.Swap(true):
		if !p.closed.Load() && p.acquire() {
			go p.replace(in)
		}
	}
	p.slots <- in
}

// retire takes in out of the count of serving instances. It returns true
// for the one caller that retired it, which then owns its slot.
func (p *Plugin) retire(in *instance) bool {
	if in.retired.Swap(true) {
		return false
	}
	p.instances.Add(-1)
	return true
}

// discard closes a failed or outdated instance and refills its slot in the
// background.
func (p *Plugin) discard(in *instance) {
	owned := p.retire(in)
	p.closeInstance(context.Background(), in)
	if owned {
		p.startRefill()
	}
}

// startRefill fills one empty slot on a background goroutine.
func (p *Plugin) startRefill() {
	if p.closed.Load() || !p.acquire() { // closing: no point starting a replacement
		p.slots <- nil
		return
	}
	go p.refill()
}

// refill instantiates a replacement into an empty slot; on failure the slot
// holds nil, and the next caller fails fast and starts another attempt.
func (p *Plugin) refill() {
	defer p.release()
	in, err := p.newInstance(context.Background())
	if err != nil {
		p.log.Warn("plugin instance failed to start", "err", err)
		p.slots <- nil
		return
	}
	p.slots <- in
}

// replace prewarms a successor for old, which keeps serving meanwhile, then
// puts the successor in the pool and retires old (closed by the next get or
// put that sees it). If old was discarded meanwhile, its slot was refilled
// already and the successor is closed.
func (p *Plugin) replace(old *instance) {
	defer p.release()
	in, err := p.newInstance(context.Background())
	if err != nil {
		p.log.Warn("plugin instance failed to start; the old one keeps serving", "err", err)
		old.replacing.Store(false)
		return
	}
	if !p.retire(old) {
		p.closeInstance(context.Background(), in)
		return
	}
	p.recycled.Add(1)
	p.slots <- in
}

// record records the outcome of a call for health and the failure streak.
// Logged once per streak: the first failure and the recovery. A call whose
// context ended (the client left, the deadline passed) is no fault of the
// plugin and is not recorded.
func (p *Plugin) record(ctx context.Context, err error) {
	if err == nil {
		if p.streak.Load() != 0 {
			if n := p.streak.Swap(0); n != 0 {
				p.log.Info("plugin recovered", "failed_calls", n)
			}
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	p.fails.Add(1)
	n := p.streak.Add(1)
	switch {
	case n == 1:
		p.log.Warn("plugin call failed", "reason", Reason(err), "err", err)
	case n%FailureThreshold == 0:
		p.log.Error("plugin unhealthy: rebuilding its pool", "failed_calls", n, "reason", Reason(err))
		p.rebuildPool()
	}
}

// rebuildPool makes every instance from before be replaced: an idle one when
// it is next taken from the pool, a busy one when it is returned.
func (p *Plugin) rebuildPool() {
	p.rebuild.Add(1)
	p.gen.Add(1)
}

// call runs one hook on in with the record already written at in.buf. The
// budget is the base fuel plus the allowance for the record's n bytes.
func (p *Plugin) call(ctx context.Context, in *instance, f api.Function, n uint32) (ptr, size uint32, err error) {
	p.setFuel(in, p.cfg.budget(int(n)))
	in.guest.startCall(p.cfg.CallTimeout)
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(n)
	if err := f.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, 0, classify(err, in.fuel != nil, p.fuelLeft(in))
	}
	ptr, size, code := abi.Unpack(int64(in.stack[0]))
	if code != 0 {
		return 0, 0, &callError{kind: ErrGuest, code: code}
	}
	return ptr, size, nil
}

// input makes room for an n-byte record and returns a view of the buffer.
// The view is valid until the next guest call (which may grow memory).
func (p *Plugin) input(ctx context.Context, in *instance, n int) ([]byte, error) {
	if n > maxRecord {
		return nil, &callError{kind: ErrTooLarge}
	}
	if err := p.grow(ctx, in, uint32(n)); err != nil {
		return nil, err
	}
	b, ok := in.mem.Read(in.buf, uint32(n))
	if !ok {
		return nil, &callError{kind: ErrBadOutput, cause: errAllocBounds}
	}
	return b, nil
}

// Route implements plugins.Router: one guest call with the request view and
// the upstream table written as one record (docs/abi.md "route"). It does
// not allocate on the steady path. Errors are the raw failure; a Set applies
// the on_error policy.
func (p *Plugin) Route(ctx context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	if !p.acquire() {
		return dst, ErrClosed
	}
	defer p.release()
	if p.kinds&plugins.KindRoute == 0 {
		return dst, ErrNoHook
	}
	in, err := p.get(ctx)
	if err != nil {
		p.record(ctx, err)
		return dst, err
	}
	p.calls.Add(1)
	dst, err = p.route(ctx, in, req, ups, dst)
	p.put(in, err != nil)
	p.record(ctx, err)
	return dst, err
}

func (p *Plugin) route(ctx context.Context, in *instance, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	buf, err := p.input(ctx, in, routeRecordSize(req, ups))
	if err != nil {
		return dst, err
	}
	var w abi.Writer
	w.Reset(buf)
	writeRoute(&w, req, ups)
	if !w.Ok() {
		return dst, &callError{kind: ErrTooLarge}
	}
	ptr, n, err := p.call(ctx, in, in.route, uint32(w.Off))
	if err != nil || n == 0 {
		return dst, err // n == 0: no opinion
	}
	out, ok := in.mem.Read(ptr, n)
	if !ok || n%4 != 0 || n/4 > uint32(len(ups)) {
		return dst, &callError{kind: ErrBadOutput, cause: errRouteOutput}
	}
	start := len(dst)
	for i := 0; i < len(out); i += 4 {
		idx := abi.U32(out[i:])
		if idx >= uint32(len(ups)) {
			return dst[:start], &callError{kind: ErrBadOutput, cause: errRouteIndex}
		}
		for _, d := range dst[start:] {
			if d == int(idx) {
				return dst[:start], &callError{kind: ErrBadOutput, cause: errRouteDuplicate}
			}
		}
		dst = append(dst, int(idx))
	}
	return dst, nil
}

func routeRecordSize(req *plugins.Request, ups []plugins.Upstream) int {
	n := abi.RouteHeaderSize + 5*4 + len(req.Model) + len(req.Tenant) + len(req.Path) + len(req.PoP) + len(req.Region)
	n += 4
	for _, h := range req.Headers {
		n += 8 + len(h.Name) + len(h.Value)
	}
	n += 4
	for i := range ups {
		u := &ups[i]
		n += 12 + len(u.Name) + len(u.Provider) + len(u.Region) + abi.UpstreamFixedSize
	}
	return n
}

func writeRoute(w *abi.Writer, req *plugins.Request, ups []plugins.Upstream) {
	var flags uint32
	if req.Stream {
		flags |= abi.FlagStream
	}
	if req.Deterministic {
		flags |= abi.FlagDeterministic
	}
	w.U32(flags)
	w.U32(uint32(req.PromptTokens))
	w.Bytes(req.Model)
	w.String(req.Tenant)
	w.String(req.Path)
	w.String(req.PoP)
	w.String(req.Region)
	w.U32(uint32(len(req.Headers)))
	for _, h := range req.Headers {
		w.Bytes(h.Name)
		w.Bytes(h.Value)
	}
	w.U32(uint32(len(ups)))
	for i := range ups {
		u := &ups[i]
		w.String(u.Name)
		w.String(u.Provider)
		w.String(u.Region)
		var uf uint32
		if u.Healthy {
			uf |= abi.UpstreamHealthy
		}
		w.U32(uf)
		w.U32(u.LatencyUS)
		w.U32(u.TTFBUS)
		w.U32(u.InFlight)
		w.F32(u.ErrorRate)
		w.F32(u.PriceIn)
		w.F32(u.PriceOut)
		w.U32(u.Weight)
	}
}

// Redact implements plugins.Redactor: one guest call with the body; the
// output record carries the rewritten body and the placeholder/original
// pairs (docs/abi.md "redact"). Nothing is appended to dst or v unless the
// whole output is valid. It does not allocate when nothing matched.
func (p *Plugin) Redact(ctx context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	if !p.acquire() {
		return dst, ErrClosed
	}
	defer p.release()
	if p.kinds&plugins.KindRedact == 0 {
		return dst, ErrNoHook
	}
	in, err := p.get(ctx)
	if err != nil {
		p.record(ctx, err)
		return dst, err
	}
	p.calls.Add(1)
	dst, err = p.redact(ctx, in, body, dst, v)
	p.put(in, err != nil)
	p.record(ctx, err)
	return dst, err
}

func (p *Plugin) redact(ctx context.Context, in *instance, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	if len(body) > math.MaxInt32 {
		return dst, &callError{kind: ErrTooLarge}
	}
	size := 12 + len(body)
	for i := range v.Len() {
		ph, _ := v.Pair(i)
		size += 4 + len(ph)
	}
	buf, err := p.input(ctx, in, size)
	if err != nil {
		return dst, err
	}
	var w abi.Writer
	w.Reset(buf)
	w.U32(0) // flags, reserved
	w.Bytes(body)
	// Placeholders already taken by earlier redactors of this request, so
	// that this one numbers its own past them (docs/abi.md "redact").
	w.U32(uint32(v.Len()))
	for i := range v.Len() {
		ph, _ := v.Pair(i)
		w.Bytes(ph)
	}
	if !w.Ok() {
		return dst, &callError{kind: ErrTooLarge}
	}
	ptr, n, err := p.call(ctx, in, in.redact, uint32(w.Off))
	if err != nil || n == 0 {
		return dst, err // n == 0: nothing matched
	}
	out, ok := in.mem.Read(ptr, n)
	if !ok {
		return dst, &callError{kind: ErrBadOutput, cause: errRedactBounds}
	}
	// Validate the whole record before touching dst, and leave v as it was
	// unless every check passes.
	newBody, pairs, origBytes, err := checkRedactOutput(out, p.cfg.MaxPlaceholders-v.Len())
	if err != nil {
		return dst, &callError{kind: ErrBadOutput, cause: err}
	}
	if v.OriginalBytes()+origBytes > p.cfg.MaxOriginalBytes {
		return dst, &callError{kind: ErrBadOutput, cause: errVaultFull}
	}
	mark := v.Len()
	var r abi.Reader
	r.Reset(out)
	r.Bytes()
	r.U32()
	for range pairs {
		ph := r.Bytes()
		if err := v.Add(ph, r.Bytes()); err != nil {
			v.Truncate(mark)
			return dst, &callError{kind: ErrBadOutput, cause: err}
		}
	}
	if err := v.Verify(body, newBody, mark); err != nil {
		v.Truncate(mark)
		return dst, &callError{kind: ErrBadOutput, cause: err}
	}
	return append(dst, newBody...), nil
}

// checkRedactOutput validates a redact output record (docs/abi.md "redact")
// and returns its body, pair count and the originals' total length. A
// record with more than maxPairs pairs is refused before they are read.
func checkRedactOutput(out []byte, maxPairs int) (body []byte, pairs uint32, origBytes int, err error) {
	var r abi.Reader
	r.Reset(out)
	body = r.Bytes()
	pairs = r.U32()
	switch {
	case !r.Ok() || uint64(pairs)*8 > uint64(len(out)):
		return nil, 0, 0, errRedactRecord
	case len(body) == 0:
		return nil, 0, 0, errRedactEmpty
	case int64(pairs) > int64(maxPairs):
		return nil, 0, 0, errVaultFull
	}
	for range pairs {
		if len(r.Bytes()) == 0 {
			return nil, 0, 0, errRedactRecord
		}
		origBytes += len(r.Bytes())
	}
	if !r.Done() {
		return nil, 0, 0, errRedactRecord
	}
	return body, pairs, origBytes, nil
}
