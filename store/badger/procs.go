package badger

// maxProcs is the most Ps Procs asks for: Dgraph, Badger's own
// deployment, runs 128.
const maxProcs = 128

// Procs is the GOMAXPROCS for a process that keeps a Badger store on
// disk, given the one Go chose (the cores, or the container's CPU
// limit): four times that, at most 128, never fewer than it had.
//
// Badger reads its tables and writes its memtable logs and new tables
// through memory mappings, and zeroes each new 16 MiB memtable arena in
// its write goroutine. A goroutine in such a copy takes a page fault per
// 4 KiB, and the Go scheduler neither knows nor can preempt it there: it
// holds its P, and every goroutine queued on that P waits with it. With
// one P per core, that is half of a 2-core machine for tens of
// milliseconds at every memtable flush (a fault costs about 11 µs on the
// machine of docs/performance.md, and lgperf measures it). With more Ps
// than cores the kernel, which can preempt a faulting thread, shares the
// cores among them. Badger's documentation recommends a high GOMAXPROCS
// for the same reason.
func Procs(chosen int) int {
	return max(chosen, min(4*chosen, maxProcs))
}
