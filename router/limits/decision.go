package limits

import (
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Verdict is the outcome of Reserve.
type Verdict uint8

// Verdicts. Every refusal is rendered as HTTP 429 with OpenAI's body.
const (
	Allowed Verdict = iota
	// RequestsExceeded: requests per minute are used up; retry later.
	RequestsExceeded
	// TokensExceeded: tokens per minute are used up; retry later.
	TokensExceeded
	// TooLarge: the estimate alone is above tokens per minute; retrying
	// cannot help (OpenAI's "Request too large").
	TooLarge
	// DailyBudgetExceeded: the UTC day's budget is spent (insufficient_quota).
	DailyBudgetExceeded
	// MonthlyBudgetExceeded: the UTC month's budget is spent (insufficient_quota).
	MonthlyBudgetExceeded
)

var verdictNames = [...]string{"allowed", "requests", "tokens", "too_large", "daily_budget", "monthly_budget"}

// String names the verdict (for metrics labels: a fixed, small set).
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}

// Quota is one dimension's state for the x-ratelimit-* headers, from the
// scope (key or tenant) with the least remaining. Limit 0: no limit, no headers.
type Quota struct {
	Limit, Remaining int64
	// Reset is how long until the counter is back to its full limit.
	Reset time.Duration
}

// Decision is what Reserve decided and everything the core needs to answer:
// the status, OpenAI's error body and the rate-limit headers. A value, so it
// costs no allocation; safe to copy.
type Decision struct {
	verdict            Verdict
	scope              ScopeKind
	requests, tokens   Quota
	limit, used, asked int64 // the refusing dimension, for the message
	retryAfter         time.Duration
}

// Allowed reports whether the request may be forwarded.
func (d *Decision) Allowed() bool { return d.verdict == Allowed }

// Verdict returns the outcome.
func (d *Decision) Verdict() Verdict { return d.verdict }

// Scope returns which scope refused (key or tenant); 0 when allowed.
func (d *Decision) Scope() ScopeKind { return d.scope }

// Requests and Tokens return the header quotas.
func (d *Decision) Requests() Quota { return d.requests }

// Tokens returns the tokens-per-minute quota.
func (d *Decision) Tokens() Quota { return d.tokens }

// RetryAfter is when a refused request could pass: the time until enough of
// the minute's limit is free, or until the budget's period renews. Zero when
// allowed or TooLarge.
func (d *Decision) RetryAfter() time.Duration { return d.retryAfter }

// Status returns the HTTP status: 200 when allowed, 429 for every refusal.
func (d *Decision) Status() int {
	if d.verdict == Allowed {
		return fasthttp.StatusOK
	}
	return fasthttp.StatusTooManyRequests
}

// ErrorType and ErrorCode return OpenAI's error type and code for a refusal:
// "requests"/"tokens" with "rate_limit_exceeded", or "insufficient_quota" twice.
func (d *Decision) ErrorType() string {
	switch d.verdict {
	case RequestsExceeded:
		return "requests"
	case TokensExceeded, TooLarge:
		return "tokens"
	case DailyBudgetExceeded, MonthlyBudgetExceeded:
		return "insufficient_quota"
	}
	return ""
}

// ErrorCode returns OpenAI's error code for a refusal.
func (d *Decision) ErrorCode() string {
	switch d.verdict {
	case RequestsExceeded, TokensExceeded, TooLarge:
		return "rate_limit_exceeded"
	case DailyBudgetExceeded, MonthlyBudgetExceeded:
		return "insufficient_quota"
	}
	return ""
}

// AppendMessage appends the refusal's human message (ASCII, nothing to
// escape, never a key or tenant name) and returns the grown slice.
func (d *Decision) AppendMessage(dst []byte) []byte {
	who := " on this tenant"
	if d.scope == ScopeKey {
		who = " on this key"
	}
	switch d.verdict {
	case RequestsExceeded, TokensExceeded:
		dim := "requests per min (RPM)"
		if d.verdict == TokensExceeded {
			dim = "tokens per min (TPM)"
		}
		dst = append(dst, "Rate limit reached for "...)
		dst = append(dst, dim...)
		dst = append(dst, who...)
		dst = append(dst, ": Limit "...)
		dst = strconv.AppendInt(dst, d.limit, 10)
		dst = append(dst, ", Used "...)
		dst = strconv.AppendInt(dst, d.used, 10)
		dst = append(dst, ", Requested "...)
		dst = strconv.AppendInt(dst, d.asked, 10)
		dst = append(dst, ". Please try again in "...)
		dst = AppendDuration(dst, d.retryAfter)
		return append(dst, '.')
	case TooLarge:
		dst = append(dst, "Request too large for tokens per min (TPM)"...)
		dst = append(dst, who...)
		dst = append(dst, ": Limit "...)
		dst = strconv.AppendInt(dst, d.limit, 10)
		dst = append(dst, ", Requested "...)
		dst = strconv.AppendInt(dst, d.asked, 10)
		return append(dst, ". The input or output tokens must be reduced in order to run successfully."...)
	case DailyBudgetExceeded:
		dst = append(dst, "You exceeded your current quota, please check your plan and billing details. The daily budget"...)
		dst = append(append(dst, " of"...), who[3:]...)
		return append(dst, " is spent; it renews at 00:00 UTC."...)
	case MonthlyBudgetExceeded:
		dst = append(dst, "You exceeded your current quota, please check your plan and billing details. The monthly budget"...)
		dst = append(append(dst, " of"...), who[3:]...)
		return append(dst, " is spent; it renews on the 1st at 00:00 UTC."...)
	}
	return dst
}

// AppendErrorBody appends OpenAI's error body for a refusal,
// {"error":{"message":…,"type":…,"param":null,"code":…}}, and returns the
// grown slice. Nothing is appended when the request was allowed.
func (d *Decision) AppendErrorBody(dst []byte) []byte {
	if d.verdict == Allowed {
		return dst
	}
	dst = append(dst, `{"error":{"message":"`...)
	dst = d.AppendMessage(dst)
	dst = append(dst, `","type":"`...)
	dst = append(dst, d.ErrorType()...)
	dst = append(dst, `","param":null,"code":"`...)
	dst = append(dst, d.ErrorCode()...)
	return append(dst, `"}}`...)
}

// Header names, lower case as OpenAI sends them.
var (
	hLimitRequests     = []byte("x-ratelimit-limit-requests")
	hLimitTokens       = []byte("x-ratelimit-limit-tokens")
	hRemainingRequests = []byte("x-ratelimit-remaining-requests")
	hRemainingTokens   = []byte("x-ratelimit-remaining-tokens")
	hResetRequests     = []byte("x-ratelimit-reset-requests")
	hResetTokens       = []byte("x-ratelimit-reset-tokens")
	hRetryAfter        = []byte("retry-after")
	hRetryAfterMs      = []byte("retry-after-ms")
)

// VisitHeaders calls f with each header the answer carries: the
// x-ratelimit-* set for every dimension that has a limit, and on a rate-limit
// refusal retry-after (whole seconds, rounded up) and retry-after-ms. Budget
// and TooLarge refusals carry no retry-after: retrying soon cannot help
// (OpenAI's spec: "may be omitted for 429s that require user action").
// Values are formatted into scratch, which is returned for reuse; f must copy
// k and v if it keeps them. No allocation once scratch has grown to ~128 bytes.
func (d *Decision) VisitHeaders(scratch []byte, f func(k, v []byte)) []byte {
	scratch = scratch[:0]
	if q := d.requests; q.Limit > 0 {
		scratch = visit(scratch, f, hLimitRequests, q.Limit, -1)
		scratch = visit(scratch, f, hRemainingRequests, q.Remaining, -1)
		scratch = visit(scratch, f, hResetRequests, 0, q.Reset)
	}
	if q := d.tokens; q.Limit > 0 {
		scratch = visit(scratch, f, hLimitTokens, q.Limit, -1)
		scratch = visit(scratch, f, hRemainingTokens, q.Remaining, -1)
		scratch = visit(scratch, f, hResetTokens, 0, q.Reset)
	}
	if d.verdict == RequestsExceeded || d.verdict == TokensExceeded {
		scratch = visit(scratch, f, hRetryAfter, retrySeconds(d.retryAfter), -1)
		scratch = visit(scratch, f, hRetryAfterMs, ceilMs(d.retryAfter), -1)
	}
	return scratch
}

// visit formats n (or, when dur >= 0, the duration) after scratch and calls f.
func visit(scratch []byte, f func(k, v []byte), k []byte, n int64, dur time.Duration) []byte {
	start := len(scratch)
	if dur >= 0 {
		scratch = AppendDuration(scratch, dur)
	} else {
		scratch = strconv.AppendInt(scratch, n, 10)
	}
	f(k, scratch[start:])
	return scratch
}

// WriteHeaders sets the headers VisitHeaders lists on h. No allocation in
// steady state (fasthttp copies into its own reused buffers).
func (d *Decision) WriteHeaders(h *fasthttp.ResponseHeader) {
	var buf [24]byte
	set := func(k []byte, v []byte) { h.SetBytesKV(k, v) }
	if q := d.requests; q.Limit > 0 {
		set(hLimitRequests, strconv.AppendInt(buf[:0], q.Limit, 10))
		set(hRemainingRequests, strconv.AppendInt(buf[:0], q.Remaining, 10))
		set(hResetRequests, AppendDuration(buf[:0], q.Reset))
	}
	if q := d.tokens; q.Limit > 0 {
		set(hLimitTokens, strconv.AppendInt(buf[:0], q.Limit, 10))
		set(hRemainingTokens, strconv.AppendInt(buf[:0], q.Remaining, 10))
		set(hResetTokens, AppendDuration(buf[:0], q.Reset))
	}
	if d.verdict == RequestsExceeded || d.verdict == TokensExceeded {
		set(hRetryAfter, strconv.AppendInt(buf[:0], retrySeconds(d.retryAfter), 10))
		set(hRetryAfterMs, strconv.AppendInt(buf[:0], ceilMs(d.retryAfter), 10))
	}
}

func ceilMs(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

func retrySeconds(d time.Duration) int64 { return max(int64((d+time.Second-1)/time.Second), 1) }

// AppendDuration appends d in OpenAI's x-ratelimit-reset-* format — Go's
// time.Duration.String of d rounded up to a whole millisecond ("0s", "20ms",
// "1s", "1.5s", "6m0s", "1h0m0s") — and returns the grown slice. Negative is 0s.
func AppendDuration(dst []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(dst, "0s"...)
	}
	ms := ceilMs(d)
	if ms < 1000 {
		return append(strconv.AppendInt(dst, ms, 10), "ms"...)
	}
	h, m := ms/3_600_000, ms/60_000%60
	s, frac := ms/1000%60, ms%1000
	if h > 0 {
		dst = append(strconv.AppendInt(dst, h, 10), 'h')
	}
	if h > 0 || m > 0 {
		dst = append(strconv.AppendInt(dst, m, 10), 'm')
	}
	dst = strconv.AppendInt(dst, s, 10)
	if frac > 0 {
		digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		n := 3
		for digits[n-1] == '0' {
			n--
		}
		dst = append(append(dst, '.'), digits[:n]...)
	}
	return append(dst, 's')
}

// observe folds one scope's state into the header quotas: per dimension, the
// scope with the least remaining wins.
func (d *Decision) observe(r *Rule, st *State) {
	fold(&d.requests, r.RequestsPerMinute, st.Requests)
	fold(&d.tokens, r.TokensPerMinute, st.Tokens)
}

func fold(q *Quota, limit, level float64) {
	if limit <= 0 {
		return
	}
	rem := int64(math.Max(0, math.Floor(limit-level)))
	if q.Limit > 0 && rem >= q.Remaining {
		return
	}
	q.Limit, q.Remaining = int64(limit), rem
	q.Reset = drainTime(level, limit)
}

// drainTime is how long a level takes to leak to zero at limit per minute.
func drainTime(level, limit float64) time.Duration {
	if level <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(level / limit * float64(minuteNs)))
}

// tooLarge refuses when tokens alone exceed the scope's tokens per minute.
func (d *Decision) tooLarge(kind ScopeKind, r *Rule, tokens int64) bool {
	if r.TokensPerMinute <= 0 || float64(tokens) <= r.TokensPerMinute {
		return false
	}
	*d = Decision{verdict: TooLarge, scope: kind, limit: int64(r.TokensPerMinute), asked: tokens}
	fold(&d.tokens, r.TokensPerMinute, 0)
	return true
}

// refuse records a refusal by scope kind, whose state st could not take c.
func (d *Decision) refuse(ex Exceeded, kind ScopeKind, r *Rule, st *State, c Charge, now int64) {
	d.observe(r, st)
	d.scope = kind
	switch ex {
	case ExceededRequests:
		d.verdict, d.limit, d.used, d.asked = RequestsExceeded, int64(r.RequestsPerMinute), int64(math.Ceil(st.Requests)), c.Requests
		d.retryAfter = drainTime(st.Requests+float64(c.Requests)-r.RequestsPerMinute, r.RequestsPerMinute)
	case ExceededTokens:
		d.verdict, d.limit, d.used, d.asked = TokensExceeded, int64(r.TokensPerMinute), int64(math.Ceil(st.Tokens)), c.Tokens
		d.retryAfter = drainTime(st.Tokens+float64(c.Tokens)-r.TokensPerMinute, r.TokensPerMinute)
	case ExceededDailyBudget:
		d.verdict, d.retryAfter = DailyBudgetExceeded, time.Duration(st.DayEnd-now)
	case ExceededMonthlyBudget:
		d.verdict, d.retryAfter = MonthlyBudgetExceeded, time.Duration(st.MonthEnd-now)
	}
}
