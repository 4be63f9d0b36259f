package wasm

import (
	"bytes"
	"context"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/abi"
)

var (
	_ plugins.Router   = (*Plugin)(nil)
	_ plugins.Redactor = (*Plugin)(nil)
)

// get takes an instance from the pool, waiting for one while all are busy
// (the pool bounds the instances, and so the memory, of a plugin). An empty
// slot is filled on the caller's goroutine.
func (p *Plugin) get(ctx context.Context) (*instance, error) {
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
	if in != nil {
		if in.gen == p.gen.Load() {
			return in, nil
		}
		// The pool is being rebuilt after K failures in a row: an idle
		// instance from before does not serve another call.
		p.closeInstance(ctx, in.mod)
	}
	in, err := p.newInstance(ctx)
	if err != nil {
		p.slots <- nil
		return nil, err
	}
	return in, nil
}

// put returns an instance to the pool, or discards it — after any error, after
// max_calls calls, when its memory grew above the recycle size, or when the
// pool is being rebuilt — and refills its slot in the background.
func (p *Plugin) put(in *instance, failed bool) {
	in.calls++
	if !failed && in.calls < p.maxCalls && in.mem.Size() <= p.recycleSize && in.gen == p.gen.Load() {
		p.slots <- in
		return
	}
	p.closeInstance(context.Background(), in.mod)
	if p.closed.Load() || !p.acquire() { // closing: no point starting a replacement
		p.slots <- nil
		return
	}
	go p.refill()
}

// refill instantiates a replacement into an empty slot; on failure the slot
// stays empty and the next caller retries synchronously.
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

// record records the outcome of a call for health and the failure streak.
// Logged once per streak: the first failure and the recovery.
func (p *Plugin) record(err error) {
	if err == nil {
		if p.streak.Load() != 0 {
			if n := p.streak.Swap(0); n != 0 {
				p.log.Info("plugin recovered", "failed_calls", n)
			}
		}
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

// recordGetError records a failure to get an instance, unless the caller's
// context ended while it waited: a client that went away is no fault of the
// plugin.
func (p *Plugin) recordGetError(ctx context.Context, err error) {
	if ctx.Err() == nil {
		p.record(err)
	}
}

// rebuildPool makes every instance from before be replaced: an idle one when
// it is next taken from the pool, a busy one when it is returned.
func (p *Plugin) rebuildPool() {
	p.rebuild.Add(1)
	p.gen.Add(1)
}

// call runs one hook on in with the record already written at in.buf.
func (p *Plugin) call(ctx context.Context, in *instance, f api.Function, n uint32) (ptr, size uint32, err error) {
	p.setFuel(in, p.maxFuel)
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
		p.recordGetError(ctx, err)
		return dst, err
	}
	dst, err = p.route(ctx, in, req, ups, dst)
	p.put(in, err != nil)
	p.record(err)
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
outer:
	for i := 0; i < len(out); i += 4 {
		idx := abi.U32(out[i:])
		if idx >= uint32(len(ups)) {
			return dst[:start], &callError{kind: ErrBadOutput, cause: errRouteIndex}
		}
		for _, d := range dst[start:] {
			if d == int(idx) {
				continue outer // a duplicate adds nothing
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
		p.recordGetError(ctx, err)
		return dst, err
	}
	dst, err = p.redact(ctx, in, body, dst, v)
	p.put(in, err != nil)
	p.record(err)
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
	// Validate the whole record before touching dst or v.
	newBody, pairs, ok := checkRedactOutput(out)
	if !ok {
		return dst, &callError{kind: ErrBadOutput, cause: errRedactRecord}
	}
	var r abi.Reader
	if v.Len() > 0 {
		// A placeholder an earlier redactor gave another original would
		// restore the wrong text: refuse it.
		r.Reset(out)
		r.Bytes()
		r.U32()
		for range pairs {
			ph, orig := r.Bytes(), r.Bytes()
			if o, ok := v.Lookup(ph); ok && !bytes.Equal(o, orig) {
				return dst, &callError{kind: ErrBadOutput, cause: errPlaceholderTaken}
			}
		}
	}
	dst = append(dst, newBody...)
	r.Reset(out)
	r.Bytes()
	r.U32()
	for range pairs {
		ph := r.Bytes()
		v.Add(ph, r.Bytes())
	}
	return dst, nil
}

// checkRedactOutput validates a redact output record (docs/abi.md "redact")
// and returns its body and pair count.
func checkRedactOutput(out []byte) (body []byte, pairs uint32, ok bool) {
	var r abi.Reader
	r.Reset(out)
	body = r.Bytes()
	pairs = r.U32()
	if !r.Ok() || uint64(pairs)*8 > uint64(len(out)) {
		return nil, 0, false
	}
	for range pairs {
		if len(r.Bytes()) == 0 {
			return nil, 0, false
		}
		r.Bytes()
	}
	return body, pairs, r.Done()
}
