// peer — a tiny Go net/http server with seed 003's /asyncwait (sleep ?s=, then
// a small JSON answer), started by lanes-lab next to lanes-demo and uvicorn so
// that the same client at the same concurrency can be compared against a third
// server in the same run: if all three stop at the same req/s, the client or the
// machine is the limit, not the server. Listens on 127.0.0.1 only, on the port
// given as its one argument.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: peer PORT")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintln(os.Stderr, "peer: bad port", os.Args[1])
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		now := float64(time.Now().UnixNano()) / 1e9
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"pid\":%d,\"start\":%.6f,\"end\":%.6f,\"message\":\"hello world\"}",
			os.Getpid(), now, now)
	})
	http.HandleFunc("/asyncwait", func(w http.ResponseWriter, r *http.Request) {
		start := float64(time.Now().UnixNano()) / 1e9
		s, err := strconv.ParseFloat(r.URL.Query().Get("s"), 64)
		if err != nil || s < 0 || s > 60 {
			http.Error(w, "s must be between 0 and 60 seconds", http.StatusUnprocessableEntity)
			return
		}
		time.Sleep(time.Duration(s * float64(time.Second)))
		end := float64(time.Now().UnixNano()) / 1e9
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"pid\":%d,\"start\":%.6f,\"end\":%.6f,\"duration\":%g}",
			os.Getpid(), start, end, s)
	})
	if err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", port), nil); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}
