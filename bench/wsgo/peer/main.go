// peer — the Go + gorilla/websocket twin of lanes-demo's /ws/echo and
// /ws/room for bench/ws_bench.py. The room is gorilla's own chat-example
// shape: a goroutine per connection writing from a buffered channel; a
// member whose channel is full misses the message (as a lanes room member
// whose send buffer is full does).
//
//	GOMAXPROCS=1 peer -addr 127.0.0.1:PORT
package main

import (
	"flag"
	"log"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		t, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(t, msg); err != nil {
			return
		}
	}
}

type room struct {
	mu      sync.Mutex
	members map[chan []byte]bool
}

var lobby = room{members: map[chan []byte]bool{}}

func roomHandler(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	out := make(chan []byte, 256)
	lobby.mu.Lock()
	lobby.members[out] = true
	lobby.mu.Unlock()
	go func() {
		for m := range out {
			if err := c.WriteMessage(websocket.TextMessage, m); err != nil {
				break
			}
		}
		c.Close()
	}()
	defer func() {
		lobby.mu.Lock()
		delete(lobby.members, out)
		lobby.mu.Unlock()
		close(out)
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		lobby.mu.Lock()
		for m := range lobby.members {
			select {
			case m <- msg:
			default: // full: this member misses it
			}
		}
		lobby.mu.Unlock()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	http.HandleFunc("/ws/echo", echo)
	http.HandleFunc("/ws/room", roomHandler)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"message":"hello world"}`)) })
	log.Fatal(http.ListenAndServe(*addr, nil))
}
