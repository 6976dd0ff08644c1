// peer.go — the Go net/http twin of lanes-demo's "/" and "/asyncwait" for the
// peer bench (bench/peers.py), and of lanes-bench-body's POST /bodies for
// bench/body_bench.py: the same JSON bodies and the same header set,
// so the bench compares the servers and not what they send. Standard library
// only; GOMAXPROCS is set by the caller to match lanes' --workers.
//
//	peer -addr 127.0.0.1:PORT
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

var pid = os.Getpid()

// appendTime writes a wall-clock time as seconds with six decimals, as
// lanes-demo's put_time does ("1796322090.209681").
func appendTime(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// begin starts the common answer {"pid":..,"start":..,"end":.. of lanes-demo.
func begin(start time.Time) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, `,"start":`...)
	b = appendTime(b, start)
	b = append(b, `,"end":`...)
	b = appendTime(b, time.Now())
	return b
}

// send answers with lanes' header set: Server, Content-Type, Content-Length,
// Date (net/http adds it) and X-Process-Time.
func send(w http.ResponseWriter, status int, start time.Time, body []byte) {
	h := w.Header()
	h["Server"] = []string{"go"}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Process-Time"] = []string{strconv.FormatFloat(time.Since(start).Seconds(), 'f', 6, 64)}
	w.WriteHeader(status)
	w.Write(body)
}

func hello(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.URL.Path != "/" {
		send(w, http.StatusNotFound, start, []byte(`{"detail":"Not Found"}`))
		return
	}
	b := append(begin(start), `,"message":"hello world"}`...)
	send(w, http.StatusOK, start, b)
}

func asyncwait(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s := 0.05
	if v, ok := r.URL.Query()["s"]; ok && len(v) > 0 {
		f, err := strconv.ParseFloat(v[0], 64)
		if err != nil {
			body, _ := json.Marshal(map[string]string{"detail": "s must be a number, got " + v[0]})
			send(w, http.StatusUnprocessableEntity, start, body)
			return
		}
		s = f
	}
	if s < 0 || s > 60 {
		send(w, http.StatusUnprocessableEntity, start, []byte(`{"detail":"s must be between 0 and 60 seconds"}`))
		return
	}
	time.Sleep(time.Duration(s * float64(time.Second)))
	b := append(begin(start), `,"duration":`...)
	b = strconv.AppendFloat(b, s, 'g', -1, 64)
	b = append(b, '}')
	send(w, http.StatusOK, start, b)
}

// note is the 10-field body of bench/body_bench.py, as FastAPI's pydantic
// model and lanes-bench-body declare it: decoded with encoding/json,
// checked field by field, answered back.
type owner struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

type note struct {
	Title    *string  `json:"title"`
	Body     string   `json:"body"`
	Priority int64    `json:"priority"`
	Score    float64  `json:"score"`
	Done     bool     `json:"done"`
	Tags     []string `json:"tags"`
	Owner    *owner   `json:"owner"`
	Due      string   `json:"due"`
	Level    string   `json:"level"`
	Views    int64    `json:"views"`
}

func bodies(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		send(w, http.StatusMethodNotAllowed, start, []byte(`{"detail":"Method Not Allowed"}`))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		send(w, http.StatusUnsupportedMediaType, start, []byte(`{"detail":"Unsupported Media Type"}`))
		return
	}
	n := note{Priority: 3, Level: "normal", Tags: []string{}}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&n); err != nil {
		body, _ := json.Marshal(map[string]string{"detail": err.Error()})
		send(w, http.StatusUnprocessableEntity, start, body)
		return
	}
	var errs []string
	if n.Title == nil || len(*n.Title) < 1 || len(*n.Title) > 200 {
		errs = append(errs, "title")
	}
	if len(n.Body) > 10000 {
		errs = append(errs, "body")
	}
	if n.Priority < 1 || n.Priority > 5 {
		errs = append(errs, "priority")
	}
	if n.Score < 0 || n.Score > 1 {
		errs = append(errs, "score")
	}
	if len(n.Tags) > 10 {
		errs = append(errs, "tags")
	}
	if n.Owner != nil && (n.Owner.Name == nil || len(*n.Owner.Name) < 1 || len(*n.Owner.Name) > 64) {
		errs = append(errs, "owner.name")
	}
	if n.Level != "low" && n.Level != "normal" && n.Level != "high" {
		errs = append(errs, "level")
	}
	if n.Views < 0 {
		errs = append(errs, "views")
	}
	if len(errs) > 0 {
		body, _ := json.Marshal(map[string][]string{"detail": errs})
		send(w, http.StatusUnprocessableEntity, start, body)
		return
	}
	body, err := json.Marshal(&n)
	if err != nil {
		send(w, http.StatusInternalServerError, start, []byte(`{"detail":"encode"}`))
		return
	}
	send(w, http.StatusOK, start, body)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on (HOST:PORT; port 0 = any free one)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	// The bench reads this line to learn the port, as lanes-demo prints its own.
	fmt.Fprintf(os.Stderr, "listening on http://%s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/", hello)
	mux.HandleFunc("/asyncwait", asyncwait)
	mux.HandleFunc("/bodies", bodies)
	log.Fatal(http.Serve(ln, mux))
}
