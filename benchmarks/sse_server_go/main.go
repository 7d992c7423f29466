// Command sse_server_go is the load-driver benchmark's SSE test server, in Go so that the
// server does not compete with the Python client for the same interpreter-bound CPU.
//
// It answers every request byte for byte as tests/load/sse_server.py does for the subset
// of its query the benchmarks use, so the two servers are interchangeable:
//
//	first_ms     delay of the first event after the request arrived (default 0)
//	interval_ms  between events (default 0)
//	events       number of events (default 1)
//	done         0: no `data: [DONE]` after the last event (a truncated stream); default 1
//	format       openai: OpenAI chat-completion chunks (a role-only chunk with the first
//	             event, one content chunk per event, then a finish chunk and a usage chunk
//	             with completion_tokens = events, before [DONE]); else the testbed dialect,
//	             `data: {"token": "tok", "i": N}`
//	close        1: `connection: close`, and the connection is closed after the response
//
// Other query parameters of the Python server (status, framing, abort_after, ...) are not
// served here. The answer is 200 text/event-stream, chunked, keep-alive (unless the request
// or close=1 says otherwise), written as the Python server writes it: the head at once,
// one chunk per event (the role chunk rides with event 0, the openai tail and [DONE] with
// the last event), then the last-chunk marker; each in its own write. HTTP is read with
// net/http's request parser but answered on the raw connection, so the head is exactly
// the Python server's (lower-case names, no Date). GET /admin/stats returns
// {"connections", "requests", "first_event_late_p99_ms", "first_event_late_max_ms",
// "first_event_samples"} where lateness is how much later than intended the server wrote
// each first event (so a client's first-event error can be told apart from the server's);
// ?reset=1 clears it.
//
//	go build -o sse_server_go . && ./sse_server_go -port 8123 [-host 127.0.0.1]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type state struct {
	connections atomic.Int64
	requests    atomic.Int64
	mu          sync.Mutex
	firstLateMs []float64 // how late each first event was written, ms
}

func (s *state) recordLate(ms float64) {
	s.mu.Lock()
	s.firstLateMs = append(s.firstLateMs, ms)
	s.mu.Unlock()
}

func (s *state) stats(reset bool) map[string]any {
	s.mu.Lock()
	late := append([]float64(nil), s.firstLateMs...)
	if reset {
		s.firstLateMs = s.firstLateMs[:0]
	}
	s.mu.Unlock()
	sort.Float64s(late)
	p99, max := 0.0, 0.0
	if n := len(late); n > 0 {
		i := int(0.99 * float64(n))
		if i > n-1 {
			i = n - 1
		}
		p99, max = late[i], late[n-1]
	}
	return map[string]any{
		"connections":             s.connections.Load(),
		"requests":                s.requests.Load(),
		"first_event_late_p99_ms": p99,
		"first_event_late_max_ms": max,
		"first_event_samples":     len(late),
	}
}

// The bytes of tests/load/sse_server.py (_DONE, _event, _OPENAI_ROLE, _openai_event, _openai_tail).
const (
	doneEvent  = "data: [DONE]\n\n"
	openaiHead = `data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",`
	openaiRole = openaiHead + `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
)

func appendEvent(buf []byte, i int, openai bool) []byte {
	if openai {
		buf = append(buf, openaiHead+`"choices":[{"index":0,"delta":{"content":"tok`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		return append(buf, ` "},"finish_reason":null}]}`+"\n\n"...)
	}
	buf = append(buf, `data: {"token": "tok", "i": `...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	return append(buf, "}\n\n"...)
}

func openaiTail(events int) []byte {
	buf := []byte(openaiHead + `"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	buf = append(buf, openaiHead+`"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":`...)
	buf = strconv.AppendInt(buf, int64(events), 10)
	buf = append(buf, `,"total_tokens":`...)
	buf = strconv.AppendInt(buf, int64(events+1), 10)
	return append(buf, "}}\n\n"...)
}

// appendChunk frames data as one HTTP/1.1 chunk ("%x\r\n%s\r\n").
func appendChunk(buf, data []byte) []byte {
	buf = strconv.AppendInt(buf, int64(len(data)), 16)
	buf = append(buf, "\r\n"...)
	buf = append(buf, data...)
	return append(buf, "\r\n"...)
}

func intParam(q map[string][]string, name string, def int) int {
	if n, err := strconv.Atoi(strParam(q, name, "")); err == nil && n >= 0 {
		return n
	}
	return def
}

// strParam is the last non-empty value of name (an empty value counts as absent, as with
// Python's parse_qs), else def.
func strParam(q map[string][]string, name, def string) string {
	v := q[name]
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] != "" {
			return v[i]
		}
	}
	return def
}

// serve answers the requests of one connection, one at a time, until it closes.
func (s *state) serve(c net.Conn) {
	defer c.Close()
	s.connections.Add(1)
	br := bufio.NewReaderSize(c, 4096)
	event := make([]byte, 0, 1024)
	chunk := make([]byte, 0, 1024)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		// The request has fully arrived once its body is read: timing starts there, as in
		// the Python server (which starts at the end of the message).
		_, _ = io.Copy(io.Discard, req.Body)
		arrived := time.Now()
		s.requests.Add(1)
		q := req.URL.Query()
		closeAfter := req.Close || strParam(q, "close", "") == "1"
		if req.URL.Path == "/admin/stats" {
			body, _ := json.Marshal(s.stats(strParam(q, "reset", "") == "1"))
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n", len(body))
			if req.Close {
				head += "connection: close\r\n"
			}
			if _, err := c.Write(append([]byte(head+"\r\n"), body...)); err != nil || req.Close {
				return
			}
			continue
		}
		first := time.Duration(intParam(q, "first_ms", 0)) * time.Millisecond
		interval := time.Duration(intParam(q, "interval_ms", 0)) * time.Millisecond
		events := intParam(q, "events", 1)
		openai := strParam(q, "format", "") == "openai"
		var done []byte
		if openai {
			done = openaiTail(events)
		}
		if strParam(q, "done", "1") == "1" {
			done = append(done, doneEvent...)
		}
		head := "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
		if closeAfter {
			head += "connection: close\r\n"
		}
		if _, err := io.WriteString(c, head+"\r\n"); err != nil {
			return
		}
		if events == 0 && len(done) > 0 {
			if _, err := c.Write(appendChunk(chunk[:0], done)); err != nil {
				return
			}
		}
		due0 := arrived.Add(first)
		for i := 0; i < events; i++ {
			due := due0.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			if i == 0 {
				late := time.Since(due0)
				if late < 0 {
					late = 0
				}
				s.recordLate(float64(late.Microseconds()) / 1000.0)
			}
			event = event[:0]
			if openai && i == 0 {
				event = append(event, openaiRole...)
			}
			event = appendEvent(event, i, openai)
			if i == events-1 {
				event = append(event, done...)
			}
			if _, err := c.Write(appendChunk(chunk[:0], event)); err != nil {
				return
			}
		}
		if _, err := io.WriteString(c, "0\r\n\r\n"); err != nil || closeAfter {
			return
		}
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on")
	flag.Parse()
	s := &state{}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sse_server_go listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				log.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors: retry
			continue
		}
		go s.serve(c)
	}
}
