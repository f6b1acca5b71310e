// goroutines parks a known set of goroutines and prints the runtime's
// debug=2 goroutine dump on stdout: 25 in main.waitOnChan on a channel
// receive, 7 blocked on a mutex in main.lockHeld, 3 in main.nap sleeping,
// 2 burning CPU in main.spin, 1 in main.accept waiting for a connection
// (IO wait) and 1 in main.choose on a select. FlareGo's parser tests read
// such dumps.
//
// With -serve ADDR it keeps them parked and serves net/http/pprof and
// expvar (/debug/vars) on ADDR instead, printing "serving on http://ADDR"
// once listening, for tests that scrape a live Go service; GET /gc there
// runs one collection, and GET /release lets the 25 waitOnChan goroutines
// return (the channel is closed).
// Standard library only.
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

//go:noinline
func waitOnChan(ch chan struct{}, ready *sync.WaitGroup) {
	ready.Done()
	<-ch
}

//go:noinline
func lockHeld(mu *sync.Mutex, ready *sync.WaitGroup) {
	ready.Done()
	mu.Lock()
	mu.Unlock()
}

//go:noinline
func nap(ready *sync.WaitGroup) {
	ready.Done()
	time.Sleep(time.Hour)
}

var sink int

//go:noinline
func accept(ln net.Listener, ready *sync.WaitGroup) {
	ready.Done()
	_, _ = ln.Accept()
}

//go:noinline
func choose(a, b chan int, ready *sync.WaitGroup) {
	ready.Done()
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func spin(ready *sync.WaitGroup) {
	ready.Done()
	n := 0
	for {
		n++
		if n%1000000 == 0 {
			sink = n
		}
	}
}

func main() {
	serve := flag.String("serve", "", "serve net/http/pprof on this address instead of dumping")
	flag.Parse()
	runtime.GOMAXPROCS(4)
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	var ready sync.WaitGroup
	ch := make(chan struct{})
	var mu sync.Mutex
	mu.Lock()
	for i := 0; i < 25; i++ {
		ready.Add(1)
		go waitOnChan(ch, &ready)
	}
	for i := 0; i < 7; i++ {
		ready.Add(1)
		go lockHeld(&mu, &ready)
	}
	for i := 0; i < 3; i++ {
		ready.Add(1)
		go nap(&ready)
	}
	for i := 0; i < 2; i++ {
		ready.Add(1)
		go spin(&ready)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ready.Add(2)
	go accept(ln, &ready)
	go choose(make(chan int), make(chan int), &ready)
	ready.Wait()
	time.Sleep(200 * time.Millisecond)
	if *serve != "" {
		// A few collections, so /debug/vars has GC pauses to report.
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		// GET /gc collects once, so tests can make pauses happen
		// inside an agent window without starting another goroutine.
		http.HandleFunc("/gc", func(w http.ResponseWriter, _ *http.Request) {
			runtime.GC()
			fmt.Fprintln(w, "ok")
		})
		var release sync.Once
		http.HandleFunc("/release", func(w http.ResponseWriter, _ *http.Request) {
			release.Do(func() { close(ch) })
			fmt.Fprintln(w, "ok")
		})
		srv, err := net.Listen("tcp", *serve)
		if err != nil {
			panic(err)
		}
		fmt.Printf("serving on http://%s\n", srv.Addr())
		panic(http.Serve(srv, nil))
	}
	_ = pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
