// Command sse_server_go is the load-driver benchmark's SSE test server, in Go so that the
// server does not compete with the Python client for the same interpreter-bound CPU.
//
// It speaks the subset of tests/load/sse_server.py's query the benchmark uses:
//
//	first_ms     delay of the first event after the request arrived (default 0)
//	interval_ms  between events (default 0)
//	events       number of events (default 1)
//
// and answers 200 text/event-stream, chunked, keep-alive, one flushed chunk per event
// (`data: {"token": "tok", "i": N}` as the Python server sends). GET /admin/stats returns
// {"connections", "requests", "first_event_late_p99_ms", "first_event_late_max_ms"} where
// lateness is how much later than intended the server wrote each first event (so a
// client's first-event error can be told apart from the server's); ?reset=1 clears it.
//
//	go build -o sse_server_go . && ./sse_server_go -port 8123 [-host 127.0.0.1]
package main

import (
	"encoding/json"
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

func intParam(r *http.Request, name string, def int) int {
	if v := r.URL.Query().Get(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n
		}
	}
	return def
}

func (s *state) chat(w http.ResponseWriter, r *http.Request) {
	// The request has fully arrived once its body is read: timing starts there, as in
	// the Python server (which starts at the end of the message).
	_, _ = io.Copy(io.Discard, r.Body)
	arrived := time.Now()
	s.requests.Add(1)
	first := time.Duration(intParam(r, "first_ms", 0)) * time.Millisecond
	interval := time.Duration(intParam(r, "interval_ms", 0)) * time.Millisecond
	events := intParam(r, "events", 1)
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush() // the head goes out at once; the first event after first_ms
	}
	due0 := arrived.Add(first)
	buf := make([]byte, 0, 64)
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
		buf = append(buf[:0], `data: {"token": "tok", "i": `...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "}\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on")
	flag.Parse()
	s := &state{}
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/stats", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(s.stats(r.URL.Query().Get("reset") == "1"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/", s.chat)
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sse_server_go listening on %s\n", ln.Addr())
	srv := &http.Server{
		Handler: mux,
		ConnState: func(_ net.Conn, cs http.ConnState) {
			if cs == http.StateNew {
				s.connections.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0), // client aborts at the end of a run are expected
	}
	log.Fatal(srv.Serve(ln))
}
