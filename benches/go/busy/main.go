// busy is the Go HTTP service the agent overhead benchmark loads: GET
// /work hashes a small buffer 200 times (about 50 µs of CPU) and answers 8
// bytes; net/http/pprof and expvar are served on the same address, as in
// a real service. Prints "serving on http://ADDR" once listening.
// Standard library only.
package main

import (
	"crypto/sha256"
	_ "expvar"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
)

func work(w http.ResponseWriter, r *http.Request) {
	b := []byte("flarego")
	var sum [32]byte
	for i := 0; i < 200; i++ {
		sum = sha256.Sum256(b)
		b = sum[:]
	}
	w.Write(sum[:8])
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		panic(err)
	}
	fmt.Printf("serving on http://%s\n", ln.Addr())
	http.HandleFunc("/work", work)
	panic(http.Serve(ln, nil))
}
