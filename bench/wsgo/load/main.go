// load — the WebSocket load client of bench/ws_bench.py, the same binary
// against every server. Go + gorilla/websocket, so the client is compiled
// code like the servers it measures.
//
//	load -mode echo  -url ws://H:P/ws/echo -c 100 -size 64 -d 5s
//	    c connections, each sends a message and waits for its echo, in a
//	    loop; prints {"msgs": echoes received, "secs": ...}.
//	load -mode bcast -url ws://H:P/ws/room -c 1000 -n 2000 -size 64 -window 8
//	    c members; one of them sends n messages keeping at most window of
//	    its own un-echoed; prints the messages delivered to all members and
//	    the time from the first send until every member has its last one
//	    (or the deadline).
//	load -mode idle  -url ws://H:P/ws/echo -c 10000 -hold 10s
//	    opens c sockets, prints "open N" when they are, holds them, checks
//	    each still echoes, closes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var dialer = websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}

func dialAll(url string, c int) []*websocket.Conn {
	conns := make([]*websocket.Conn, c)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed int32
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			conn, _, err := dialer.Dial(url, nil)
			if err != nil {
				if atomic.AddInt32(&failed, 1) == 1 {
					fmt.Fprintln(os.Stderr, "dial:", err)
				}
				return
			}
			conns[i] = conn
		}(i)
	}
	wg.Wait()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d connections failed\n", failed, c)
		os.Exit(1)
	}
	return conns
}

func echo(url string, c, size int, d time.Duration) {
	conns := dialAll(url, c)
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	var total int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *websocket.Conn) {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(end) {
				if conn.WriteMessage(websocket.TextMessage, msg) != nil {
					break
				}
				if _, _, err := conn.ReadMessage(); err != nil {
					break
				}
				n++
			}
			atomic.AddInt64(&total, n)
		}(conn)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	for _, conn := range conns {
		conn.Close()
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"msgs": total, "secs": secs, "rate": float64(total) / secs})
}

func bcast(url string, c, n, size, window int, deadline time.Duration) {
	conns := dialAll(url, c)
	time.Sleep(200 * time.Millisecond) // every member has joined
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'b'
	}
	var delivered int64
	var wg sync.WaitGroup
	credits := make(chan struct{}, window)
	for i := 0; i < window; i++ {
		credits <- struct{}{}
	}
	start := time.Now()
	stop := start.Add(deadline)
	lastAt := make([]time.Time, c)
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn *websocket.Conn) {
			defer wg.Done()
			conn.SetReadDeadline(stop)
			got := 0
			for got < n {
				if _, _, err := conn.ReadMessage(); err != nil {
					break
				}
				got++
				lastAt[i] = time.Now()
				if i == 0 {
					credits <- struct{}{} // the sender's own copy came back
				}
			}
			atomic.AddInt64(&delivered, int64(got))
		}(i, conn)
	}
	sender := conns[0]
	for k := 0; k < n; k++ {
		select {
		case <-credits:
		case <-time.After(time.Until(stop)):
			k = n
			continue
		}
		if sender.WriteMessage(websocket.TextMessage, msg) != nil {
			break
		}
	}
	wg.Wait()
	last := start
	for _, t := range lastAt {
		if t.After(last) {
			last = t
		}
	}
	secs := last.Sub(start).Seconds()
	for _, conn := range conns {
		conn.Close()
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"delivered": delivered, "expected": int64(n) * int64(c),
		"secs": secs, "rate": float64(delivered) / secs})
}

func idle(url string, c int, hold time.Duration) {
	conns := dialAll(url, c)
	// A reader per socket, as a browser has: it answers the server's pings
	// (gorilla does so inside ReadMessage) and catches the echoes.
	got := make([]chan bool, len(conns))
	for i, conn := range conns {
		got[i] = make(chan bool, 1)
		go func(conn *websocket.Conn, ch chan bool) {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					close(ch)
					return
				}
				select {
				case ch <- true:
				default:
				}
			}
		}(conn, got[i])
	}
	fmt.Printf("open %d\n", len(conns))
	os.Stdout.Sync()
	time.Sleep(hold)
	ok := 0
	for i, conn := range conns {
		if conn.WriteMessage(websocket.TextMessage, []byte("x")) == nil {
			select {
			case v := <-got[i]:
				if v {
					ok++
				}
			case <-time.After(10 * time.Second):
			}
		}
	}
	for _, conn := range conns {
		conn.Close()
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"open": c, "still_echo": ok})
}

func main() {
	mode := flag.String("mode", "echo", "echo | bcast | idle")
	url := flag.String("url", "", "ws://127.0.0.1:PORT/path")
	c := flag.Int("c", 100, "connections")
	size := flag.Int("size", 64, "message bytes")
	d := flag.Duration("d", 5*time.Second, "echo: duration")
	n := flag.Int("n", 1000, "bcast: messages")
	window := flag.Int("window", 8, "bcast: the sender's messages in flight")
	deadline := flag.Duration("deadline", 60*time.Second, "bcast: give up after")
	hold := flag.Duration("hold", 5*time.Second, "idle: hold the sockets this long")
	flag.Parse()
	switch *mode {
	case "echo":
		echo(*url, *c, *size, *d)
	case "bcast":
		bcast(*url, *c, *n, *size, *window, *deadline)
	case "idle":
		idle(*url, *c, *hold)
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode")
		os.Exit(2)
	}
}
