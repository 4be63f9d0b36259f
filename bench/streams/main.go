// Command streams is the bench/streams benchmark (issue 16): thousands of
// concurrent SSE streams through a proxy, each event's delay measured from
// the moment the upstream sent it to the moment the client read it.
//
//	streams upstream -addr 127.0.0.1:PORT -events 100 -interval 100ms
//	streams load -url http://127.0.0.1:PORT/v1/chat/completions -c 1000 -pid PID
//
// upstream is a minimal fasthttp SSE server speaking OpenAI's chat stream
// (chat.completion.chunk events, then [DONE]); every event's content carries
// its send time ("t=<unix nanos>"). Why not internal/mockcloud? Its payloads
// are fixed by the reply text, so they cannot carry a per-event send time,
// and its per-request work (auth, JSON decoding of the request) is not what
// this benchmark measures; the upstream here costs the same for every target.
//
// load opens C streams (ramped over -ramp), reads them to the end, and prints
// one JSON line: streams ok/broken, delay p50/p99/max, and, for the process
// -pid (the proxy), RSS per stream (peak minus idle, from /proc/PID/status)
// and CPU seconds per 1,000 events (utime+stime from /proc/PID/stat).
// Loopback only; every wait is bounded.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: streams upstream|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstream(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "table":
		err = table(os.Stdin)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "streams:", err)
		os.Exit(1)
	}
}

func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18300", "listen address (loopback)")
	events := fs.Int("events", 100, "events per stream")
	interval := fs.Duration("interval", 100*time.Millisecond, "pause between events")
	fs.Parse(args)
	if !strings.HasPrefix(*addr, "127.0.0.1:") {
		return errors.New("upstream: loopback addresses only")
	}
	srv := &fasthttp.Server{
		Handler:      func(ctx *fasthttp.RequestCtx) { serveStream(ctx, *events, *interval) },
		Name:         "streams-upstream",
		IdleTimeout:  time.Minute,
		Concurrency:  1 << 20,
		WriteTimeout: 10 * time.Minute,
	}
	return srv.ListenAndServe(*addr)
}

// serveStream answers any request with one chat completion stream.
func serveStream(ctx *fasthttp.RequestCtx, events int, interval time.Duration) {
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("cache-control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		buf := make([]byte, 0, 512)
		for i := range events {
			if i > 0 {
				time.Sleep(interval)
			}
			buf = append(buf[:0], `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench","choices":[{"index":0,"delta":{"content":"t=`...)
			buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
			buf = append(buf, `"},"finish_reason":null}]}`+"\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
		w.WriteString(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}` + "\n\ndata: [DONE]\n\n")
		w.Flush()
	})
}

// Result is one load run, printed as one JSON line.
type Result struct {
	Label               string
	Streams, OK, Broken int
	Events              int64
	P50ms, P99ms, MaxMs float64
	RSSIdleKB, RSSPeak  int64
	RSSPerStreamKB      float64
	CPUSeconds          float64
	CPUPer1kEvents      float64
	Errors              []string `json:",omitempty"`
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	rawURL := fs.String("url", "", "chat completions URL of the target (loopback)")
	c := fs.Int("c", 100, "concurrent streams")
	ramp := fs.Duration("ramp", 2*time.Second, "time over which the streams are opened")
	pid := fs.Int("pid", 0, "process whose RSS and CPU are measured (0: none)")
	limit := fs.Duration("timeout", 2*time.Minute, "bound on the whole run")
	key := fs.String("key", "sk-bench", "bearer key sent")
	label := fs.String("label", "", "target name carried into the result")
	progress := fs.String("progress", "", "file rewritten every 100 ms with the number of events received so far")
	fs.Parse(args)
	u, err := url.Parse(*rawURL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("load: -url must be a loopback http URL, got %q", *rawURL)
	}
	body := `{"model":"bench","stream":true,"temperature":0.7,"messages":[{"role":"user","content":"stream please"}]}`
	req := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + *key +
		"\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\n\r\n" + body

	var res Result
	res.Streams, res.Label = *c, *label
	if *pid > 0 {
		res.RSSIdleKB = rssKB(*pid)
	}
	cpu0 := cpuSeconds(*pid)
	deadline := time.Now().Add(*limit)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		delays  []int64
		errs    = map[string]int{}
		ok      atomic.Int64
		events  atomic.Int64
		started atomic.Int64
	)
	var peak atomic.Int64
	stopSample := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // RSS sampler: the peak while streams are open
		defer close(sampled)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-t.C:
				if *progress != "" {
					// Renamed into place, so a reader never sees a half-written file.
					if os.WriteFile(*progress+".tmp", strconv.AppendInt(nil, events.Load(), 10), 0o644) == nil {
						os.Rename(*progress+".tmp", *progress)
					}
				}
				if *pid > 0 {
					if r := rssKB(*pid); r > peak.Load() {
						peak.Store(r)
					}
				}
			}
		}
	}()
	step := *ramp / time.Duration(max(*c, 1))
	for i := range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _, err := oneStream(u.Host, req, deadline, &started, &events)
			mu.Lock()
			delays = append(delays, d...)
			if err != nil {
				errs[err.Error()]++
			} else {
				ok.Add(1)
			}
			mu.Unlock()
		}()
		if step > 0 && i%16 == 15 {
			time.Sleep(16 * step)
		}
	}
	wg.Wait()
	close(stopSample)
	<-sampled
	res.OK = int(ok.Load())
	res.Broken = res.Streams - res.OK
	res.Events = events.Load()
	for e, n := range errs {
		res.Errors = append(res.Errors, fmt.Sprintf("%d× %s", n, e))
	}
	slices.Sort(delays)
	if len(delays) > 0 {
		res.P50ms = ms(delays[len(delays)/2])
		res.P99ms = ms(delays[len(delays)*99/100])
		res.MaxMs = ms(delays[len(delays)-1])
	}
	if *pid > 0 {
		res.RSSPeak = peak.Load()
		res.RSSPerStreamKB = float64(res.RSSPeak-res.RSSIdleKB) / float64(max(res.Streams, 1))
		res.CPUSeconds = cpuSeconds(*pid) - cpu0
		if res.Events > 0 {
			res.CPUPer1kEvents = res.CPUSeconds / float64(res.Events) * 1000
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

var marker = []byte(`"content":"t=`)

// oneStream opens one stream and reads it to [DONE], returning every event's
// delay (client receive time minus the upstream's send time in the payload).
func oneStream(host, req string, deadline time.Time, started, events *atomic.Int64) ([]int64, int64, error) {
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, 0, errors.New("dial failed")
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, 0, errors.New("write failed")
	}
	started.Add(1)
	br := bufio.NewReaderSize(conn, 4<<10)
	status, err := br.ReadSlice('\n')
	if err != nil {
		return nil, 0, errors.New("no response")
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return nil, 0, fmt.Errorf("status %s", bytes.TrimSpace(status))
	}
	delays := make([]int64, 0, 128)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return delays, n, errors.New("stream cut before [DONE]")
		}
		now := time.Now().UnixNano()
		if i := bytes.Index(line, marker); i >= 0 {
			rest := line[i+len(marker):]
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				return delays, n, errors.New("bad event")
			}
			sent, perr := strconv.ParseInt(string(rest[:j]), 10, 64)
			if perr != nil {
				return delays, n, errors.New("bad timestamp")
			}
			delays = append(delays, now-sent)
			n++
			events.Add(1)
			continue
		}
		if bytes.HasPrefix(line, []byte("data: [DONE]")) {
			return delays, n, nil
		}
		if bytes.Contains(line, []byte(`"error"`)) {
			return delays, n, errors.New("error event")
		}
	}
}

// rssKB returns VmRSS of pid in KiB (0 if unknown).
func rssKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// cpuSeconds returns utime+stime of pid and its waited-for children, in
// seconds (clock ticks of 100 Hz, Linux's USER_HZ).
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is f[0]; utime is field 14 of stat, i.e. f[11]; stime f[12].
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// table turns the JSON lines of load runs (and "strace" lines: label,
// syscalls per event, top calls) into the Markdown table of bench/RESULTS.md.
func table(r io.Reader) error {
	fmt.Println("| target | streams | ok | broken | delay p50 ms | p99 ms | max ms | RSS per stream KB | CPU s per 1k events |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	sc := bufio.NewScanner(r)
	var straces []string
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "strace "); ok {
			straces = append(straces, rest)
			continue
		}
		var x Result
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			continue
		}
		rss, cpu := "", ""
		if x.RSSPeak > 0 {
			rss = fmt.Sprintf("%.1f", x.RSSPerStreamKB)
			cpu = fmt.Sprintf("%.4f", x.CPUPer1kEvents)
		}
		fmt.Printf("| %s | %d | %d | %d | %.2f | %.2f | %.2f | %s | %s |\n", x.Label, x.Streams, x.OK, x.Broken,
			x.P50ms, x.P99ms, x.MaxMs, rss, cpu)
		for _, e := range x.Errors {
			fmt.Printf("|   ↳ %s | | | | | | | | |\n", e)
		}
	}
	if len(straces) > 0 {
		fmt.Println()
		fmt.Println("| target | streams | events received in window | events relayed (client writes) | syscalls per relayed event | data reads per relayed event | most frequent calls (count) |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---|")
		for _, l := range straces {
			fmt.Println("| " + strings.ReplaceAll(l, "\t", " | ") + " |")
		}
	}
	return sc.Err()
}
