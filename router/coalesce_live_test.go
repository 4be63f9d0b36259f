package router_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// liveWords is a prompt whose echo streams as many chunks as it has words.
const liveWords = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"

// streamed is what one openai-go streaming client saw: the text, when each
// chunk arrived, the cache outcome, and the error that ended it.
type streamed struct {
	text  string
	times []time.Time
	cache string
	err   error
}

// readStream consumes one streamed chat completion with openai-go. started,
// when set, is closed after the first chunk; stopAfter > 0 cancels the
// client's request (it closes the connection) after that many chunks.
func readStream(base, prompt string, started chan<- struct{}, stopAfter int) streamed {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var raw *http.Response
	p := deterministicParams(prompt)
	c := client(base)
	s := c.Chat.Completions.NewStreaming(ctx, p, option.WithResponseInto(&raw))
	var out streamed
	var b strings.Builder
	for s.Next() {
		ch := s.Current()
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
		out.times = append(out.times, time.Now())
		if len(out.times) == 1 && started != nil {
			close(started)
		}
		if stopAfter > 0 && len(out.times) == stopAfter {
			cancel()
			break
		}
	}
	out.text, out.err = b.String(), s.Err()
	if raw != nil {
		out.cache = raw.Header.Get("x-switchyard-cache")
	}
	s.Close()
	return out
}

// A waiter that joins an identical in-flight stream gets the events already
// sent at once and then each new one as the leader gets it: its first event
// arrives while the leader's stream is still running, not after it ended
// (issue 11: the waiter used to wait for the whole generation). Ordering and
// completeness are asserted, not wall-clock figures.
func TestCoalescedStreamIsLive(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 40 * time.Millisecond})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})

	started := make(chan struct{})
	leaderDone := make(chan streamed, 1)
	go func() { leaderDone <- readStream(base, liveWords, started, 0) }()
	<-started
	waiter := readStream(base, liveWords, nil, 0)
	leader := <-leaderDone

	if leader.err != nil || waiter.err != nil {
		t.Fatalf("leader %v, waiter %v", leader.err, waiter.err)
	}
	want := "You said: " + liveWords
	if leader.text != want || waiter.text != want {
		t.Fatalf("leader %q, waiter %q, want %q", leader.text, waiter.text, want)
	}
	if leader.cache != "miss" || waiter.cache != "coalesced" {
		t.Fatalf("cache outcomes: leader %q, waiter %q", leader.cache, waiter.cache)
	}
	if got := m.Calls(); got != 1 {
		t.Fatalf("upstream calls %d, want 1", got)
	}
	// The waiter's first event came before the leader's last one: it was
	// relayed live, while the cloud was still generating.
	if !waiter.times[0].Before(leader.times[len(leader.times)-1]) {
		t.Fatalf("the waiter's first event (%v) came after the leader's stream ended (%v)",
			waiter.times[0], leader.times[len(leader.times)-1])
	}
	// And it kept receiving events while the leader did: not one burst at the end.
	if last := waiter.times[len(waiter.times)-1]; !waiter.times[1].Before(leader.times[len(leader.times)-1]) || last.Before(waiter.times[0]) {
		t.Fatalf("the waiter's events were not relayed as they arrived: %v", waiter.times)
	}
}

// The leader's client leaving does not harm the waiter: the upstream stream
// continues while the waiter reads it, the waiter gets the whole answer, and
// the complete answer is stored. A waiter leaving does not harm the leader.
func TestCoalescedStreamSurvivesEitherSideLeaving(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 30 * time.Millisecond})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	want := "You said: " + liveWords

	t.Run("leader leaves", func(t *testing.T) {
		started := make(chan struct{})
		leaderDone := make(chan streamed, 1)
		go func() { leaderDone <- readStream(base, liveWords, started, 3) }()
		<-started
		waiter := readStream(base, liveWords, nil, 0)
		leader := <-leaderDone
		if len(leader.times) != 3 {
			t.Fatalf("the leader read %d chunks, want to stop after 3", len(leader.times))
		}
		if waiter.err != nil || waiter.text != want || waiter.cache != "coalesced" {
			t.Fatalf("waiter: %q %q %v", waiter.text, waiter.cache, waiter.err)
		}
		if got := m.Calls(); got != 1 {
			t.Fatalf("upstream calls %d, want 1", got)
		}
		// The stream was read to its end for the waiter, so it is stored (the
		// leader stores it just after the waiter's last event).
		eventually(t, "the answer was stored", func() bool {
			_, h, body := post(t, base, `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"`+liveWords+`"}]}`,
				"Cache-Control", "only-if-cached")
			return h.Get("x-switchyard-cache") == "hit" && strings.Contains(body, want)
		})
		if got := m.Calls(); got != 1 {
			t.Fatalf("upstream calls %d, want 1", got)
		}
	})

	t.Run("waiter leaves", func(t *testing.T) {
		prompt := "again " + liveWords
		started := make(chan struct{})
		leaderDone := make(chan streamed, 1)
		before := m.Calls()
		go func() { leaderDone <- readStream(base, prompt, started, 0) }()
		<-started
		waiter := readStream(base, prompt, nil, 2)
		leader := <-leaderDone
		if waiter.cache != "coalesced" || len(waiter.times) != 2 {
			t.Fatalf("waiter: %q after %d chunks", waiter.cache, len(waiter.times))
		}
		if leader.err != nil || leader.text != "You said: "+prompt {
			t.Fatalf("leader: %q %v", leader.text, leader.err)
		}
		if got := m.Calls() - before; got != 1 {
			t.Fatalf("upstream calls %d, want 1", got)
		}
	})
}

// A JSON waiter of a streamed leader gets the converted JSON answer, and a
// streamed waiter of a JSON leader the stream made from it.
func TestCoalescedAcrossModes(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 20 * time.Millisecond})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	want := "You said: " + liveWords

	started := make(chan struct{})
	leaderDone := make(chan streamed, 1)
	go func() { leaderDone <- readStream(base, liveWords, started, 0) }()
	<-started
	var raw *http.Response
	c := client(base)
	res, err := c.Chat.Completions.New(context.Background(), deterministicParams(liveWords), option.WithResponseInto(&raw))
	if err != nil || res.Choices[0].Message.Content != want || raw.Header.Get("x-switchyard-cache") != "coalesced" {
		t.Fatalf("JSON waiter of a stream: %v %+v %v", err, res, raw.Header)
	}
	if l := <-leaderDone; l.err != nil || l.text != want {
		t.Fatalf("leader: %q %v", l.text, l.err)
	}

	prompt := "json leader " + liveWords
	m.Inject(mockcloud.Fault{Latency: 300 * time.Millisecond})
	jsonDone := make(chan error, 1)
	go func() {
		_, err := c.Chat.Completions.New(context.Background(), deterministicParams(prompt))
		jsonDone <- err
	}()
	// The JSON leader is in flight once the mock has its call.
	eventually(t, "the JSON leader reached the mock", func() bool { return m.Calls() >= 2 })
	s := readStream(base, prompt, nil, 0)
	if s.err != nil || s.text != "You said: "+prompt || s.cache != "coalesced" {
		t.Fatalf("stream waiter of a JSON leader: %q %q %v", s.text, s.cache, s.err)
	}
	if err := <-jsonDone; err != nil {
		t.Fatal(err)
	}
	if got := m.Calls(); got != 2 {
		t.Fatalf("upstream calls %d, want 2", got)
	}
}

// readResponsesStream consumes one streamed Responses answer with openai-go:
// the output text deltas, their arrival times, the completed Response's text.
func readResponsesStream(base, prompt string, started chan<- struct{}) (out streamed, final string) {
	c := openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("sk-any"), option.WithMaxRetries(0))
	var raw *http.Response
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "codex", Temperature: openai.Float(0),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)}}, option.WithResponseInto(&raw))
	var b strings.Builder
	for st.Next() {
		switch ev := st.Current(); ev.Type {
		case "response.output_text.delta":
			b.WriteString(ev.Delta)
			out.times = append(out.times, time.Now())
			if len(out.times) == 1 && started != nil {
				close(started)
			}
		case "response.completed":
			final = ev.AsResponseCompleted().Response.OutputText()
		}
	}
	out.text, out.err = b.String(), st.Err()
	if raw != nil {
		out.cache = raw.Header.Get("x-switchyard-cache")
	}
	return out, final
}

// Live sharing holds for the Responses API too, native and translated from
// Chat Completions: the waiter's deltas arrive while the leader's stream
// runs, with the same text and a completed Response of its own.
func TestCoalescedResponsesStreamIsLive(t *testing.T) {
	o := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 30 * time.Millisecond})
	b := startMock(t, mockcloud.Options{Provider: "bedrock", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", ChunkDelay: 30 * time.Millisecond})
	ups := map[string]config.Upstream{
		"native": {Name: "openai", Provider: "openai", BaseURL: o.URL(), Auth: config.Auth{APIKey: "sk-test"},
			Models: map[string]string{"codex": "gpt-oss-120b"}},
		"translated": {Name: "bedrock-converse", Provider: "bedrock", BaseURL: b.URL(), Region: "us-east-1", API: "converse",
			Auth: config.Auth{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}, Models: map[string]string{"codex": "openai.gpt-oss-120b-1:0"}},
	}
	for name, u := range ups {
		t.Run(name, func(t *testing.T) {
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			prompt := name + " " + liveWords
			started := make(chan struct{})
			type result struct {
				s     streamed
				final string
			}
			leaderDone := make(chan result, 1)
			go func() {
				s, f := readResponsesStream(base, prompt, started)
				leaderDone <- result{s, f}
			}()
			<-started
			waiter, wfinal := readResponsesStream(base, prompt, nil)
			leader := <-leaderDone
			if leader.s.err != nil || waiter.err != nil {
				t.Fatalf("leader %v, waiter %v", leader.s.err, waiter.err)
			}
			if !strings.Contains(leader.s.text, prompt) || waiter.text != leader.s.text || wfinal != waiter.text || leader.final != leader.s.text {
				t.Fatalf("leader %q (final %q), waiter %q (final %q)", leader.s.text, leader.final, waiter.text, wfinal)
			}
			if leader.s.cache != "miss" || waiter.cache != "coalesced" {
				t.Fatalf("cache outcomes: leader %q, waiter %q", leader.s.cache, waiter.cache)
			}
			if !waiter.times[0].Before(leader.s.times[len(leader.s.times)-1]) {
				t.Fatal("the waiter's first delta came after the leader's stream ended")
			}
		})
	}
}
