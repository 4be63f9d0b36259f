package openai

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, body io.Reader, requireDone bool) (names, datas []string, err error) {
	t.Helper()
	r := AcquireSSEReader(body, requireDone)
	var ev Event
	for range 1000 {
		if err = r.Next(&ev); err != nil {
			return names, datas, err
		}
		names = append(names, string(ev.Name))
		datas = append(datas, string(ev.Data))
	}
	t.Fatal("reader did not end")
	return
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		requireDone bool
		want        []string
		wantNames   []string
		wantErr     error
	}{
		{"openai chunks", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n", true, []string{`{"a":1}`, `{"a":2}`}, nil, io.EOF},
		{"crlf and no space", "data:{\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", true, []string{`{"a":1}`}, nil, io.EOF},
		{"cr only", "data: 1\r\rdata: [DONE]\r\r", true, []string{`1`}, nil, io.EOF},
		{"comments and ids ignored", ": ping\nid: 7\nretry: 10\ndata: x\n\n: keep-alive\n\ndata: [DONE]\n\n", true, []string{"x"}, nil, io.EOF},
		{"multi-line data joined", "data: a\ndata: b\n\ndata: [DONE]\n\n", true, []string{"a\nb"}, nil, io.EOF},
		{"named events, no sentinel", "event: response.created\ndata: {}\n\nevent: response.completed\ndata: {\"x\":1}\n\n", false,
			[]string{`{}`, `{"x":1}`}, []string{"response.created", "response.completed"}, io.EOF},
		{"truncated chat stream", "data: {\"a\":1}\n\n", true, []string{`{"a":1}`}, nil, io.ErrUnexpectedEOF},
		{"final event without blank line is cut short", "data: {\"a\":1}", false, nil, nil, io.ErrUnexpectedEOF},
		{"content mentioning error is data", "data: {\"content\":\"an \\\"error\\\" here\"}\n\ndata: [DONE]\n\n", true,
			[]string{`{"content":"an \"error\" here"}`}, nil, io.EOF},
	}
	for _, tt := range tests {
		for _, split := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				var body io.Reader = strings.NewReader(tt.in)
				if split {
					body = iotest.OneByteReader(body)
				}
				names, datas, err := readAll(t, body, tt.requireDone)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if strings.Join(datas, "|") != strings.Join(tt.want, "|") {
					t.Fatalf("data = %q, want %q", datas, tt.want)
				}
				if tt.wantNames != nil && strings.Join(names, "|") != strings.Join(tt.wantNames, "|") {
					t.Fatalf("names = %q, want %q", names, tt.wantNames)
				}
			})
		}
	}
}

func TestSSEReaderInStreamError(t *testing.T) {
	in := "data: {\"choices\":[]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\n\n"
	_, datas, err := readAll(t, strings.NewReader(in), true)
	var pe *APIError
	if !errors.As(err, &pe) || pe.Message != "overloaded" || pe.Code != "overloaded" || len(datas) != 1 {
		t.Fatalf("got %v %#v after %d events", err, pe, len(datas))
	}
}

func TestSSEReaderLargeEvent(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	_, datas, err := readAll(t, strings.NewReader("data: "+big+"\n\ndata: [DONE]\n\n"), true)
	if err != io.EOF || len(datas) != 1 || datas[0] != big {
		t.Fatalf("err %v, %d events", err, len(datas))
	}
	_, _, err = readAll(t, strings.NewReader("data: "+strings.Repeat("y", MaxEventBytes+10)), true)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized event: %v", err)
	}
}

func TestAppendEvent(t *testing.T) {
	got := string(AppendEvent(nil, nil, []byte(`{"a":1}`)))
	if got != "data: {\"a\":1}\n\n" {
		t.Fatalf("%q", got)
	}
	got = string(AppendEvent(nil, []byte("response.completed"), []byte(`{}`)))
	if got != "event: response.completed\ndata: {}\n\n" {
		t.Fatalf("%q", got)
	}
}
