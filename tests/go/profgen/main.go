// profgen runs a small, known workload and writes its CPU, heap,
// goroutine, block and mutex profiles (gzipped pprof) into a directory.
// FlareGo's end-to-end tests ingest them and compare the totals with
// `go tool pprof -raw`. Standard library only.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var sink []byte

//go:noinline
func spin(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			n += i * i
		}
	}
	return n
}

//go:noinline
func allocate(rounds int) {
	for i := 0; i < rounds; i++ {
		b := make([]byte, 64<<10)
		if i%16 == 0 {
			sink = append(sink[:0], b...)
		}
	}
}

//go:noinline
func waitOnChan(ch chan struct{}, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

//go:noinline
func contend(mu *sync.Mutex, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 200; i++ {
		mu.Lock()
		time.Sleep(50 * time.Microsecond)
		mu.Unlock()
	}
}

func write(dir, name string, p *pprof.Profile) {
	f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := p.WriteTo(f, 0); err != nil {
		panic(err)
	}
}

func main() {
	dir := flag.String("out", ".", "directory for the profiles")
	cpu := flag.Duration("cpu", time.Second, "how long to profile the CPU")
	flag.Parse()
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	runtime.MemProfileRate = 4096

	f, err := os.Create(filepath.Join(*dir, "cpu.pb.gz"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); spin(*cpu) }()
	}
	allocate(2000)
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go contend(&mu, &wg)
	}
	wg.Wait()
	pprof.StopCPUProfile()
	f.Close()

	ch := make(chan struct{})
	var parked sync.WaitGroup
	for i := 0; i < 25; i++ {
		parked.Add(1)
		go waitOnChan(ch, &parked)
	}
	parked.Wait()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	write(*dir, "heap", pprof.Lookup("heap"))
	write(*dir, "goroutine", pprof.Lookup("goroutine"))
	write(*dir, "block", pprof.Lookup("block"))
	write(*dir, "mutex", pprof.Lookup("mutex"))
	close(ch)
	fmt.Println("ok")
}
