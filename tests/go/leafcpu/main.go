// A CPU-bound Go program for the perf sampler's unwinding test, behind a
// real net/http/pprof. In -mode leaf, main.hot spends its time calling
// main.mix, a leaf Go compiles without a frame; in -mode sha, main.hasher
// spends it in crypto/sha256's assembly, which uses BP for data.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

var sink uint64

//go:noinline
func mix(x uint64) uint64 {
	return (x ^ (x >> 13)) * 0x9E3779B97F4A7C15
}

//go:noinline
func hot(n int) uint64 {
	var acc uint64
	for i := 0; i < n; i++ {
		acc += mix(uint64(i) + acc)
	}
	return acc
}

//go:noinline
func worker() {
	for {
		sink += hot(1 << 20)
	}
}

//go:noinline
func hasher() {
	buf := make([]byte, 64<<10)
	for {
		sum := sha256.Sum256(buf)
		buf[0] = sum[0]
	}
}

func main() {
	addr := flag.String("serve", "127.0.0.1:0", "listen address")
	mode := flag.String("mode", "leaf", "leaf or sha")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("serving on http://%s\n", ln.Addr())
	if *mode == "sha" {
		go hasher()
	} else {
		go worker()
	}
	_ = http.Serve(ln, nil)
}
