// A CPU-bound Go program for the perf sampler's unwinding test, behind a
// real net/http/pprof. In -mode leaf, main.hot spends its time calling
// main.mix, a leaf Go compiles without a frame; in -mode sha, main.hasher
// spends it in crypto/sha256's assembly, which uses BP for data.
// /cpuprofile?seconds=N&hz=H is Go's own CPU profile at H Hz (the
// standard endpoint is fixed at 100 Hz, too few samples to compare shares).
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
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

// cpuProfile sets the rate before starting the profile, so the runtime
// keeps it (StartCPUProfile's own 100 Hz request is then refused).
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	seconds, err := strconv.Atoi(r.URL.Query().Get("seconds"))
	if err != nil || seconds <= 0 {
		http.Error(w, "seconds must be a positive integer", http.StatusBadRequest)
		return
	}
	hz, err := strconv.Atoi(r.URL.Query().Get("hz"))
	if err != nil || hz <= 0 {
		http.Error(w, "hz must be a positive integer", http.StatusBadRequest)
		return
	}
	runtime.SetCPUProfileRate(hz)
	if err := pprof.StartCPUProfile(w); err != nil {
		runtime.SetCPUProfileRate(0)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	time.Sleep(time.Duration(seconds) * time.Second)
	pprof.StopCPUProfile()
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
	http.HandleFunc("/cpuprofile", cpuProfile)
	if *mode == "sha" {
		go hasher()
	} else {
		go worker()
	}
	_ = http.Serve(ln, nil)
}
