// Package bench holds the loader's benchmarks, run by make bench:
//
//	go run ./internal/bench/execbench -loader bin/sysrestrict-exec
//
// execbench measures, interleaved in one run, the exec of a trivial C
// program directly, through sysrestrict-exec and through gofloor (a Go
// program that only execs: the Go start-up floor), and the cost of an
// allowed syscall (getppid) with no filter and under the loader's filter.
package bench
