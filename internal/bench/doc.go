// Package bench holds the benchmarks that make bench runs:
//
//	go run ./internal/bench/execbench -loader bin/sysrestrict-exec
//	go run ./internal/bench/hostile -bin bin
//	go run ./internal/bench/embedbench -loader bin/sysrestrict-exec
//	go run ./internal/bench/auditbench -bin bin
//
// execbench measures, interleaved in one run, the exec of a trivial C
// program directly, through sysrestrict-exec and through gofloor (a Go
// program that only execs: the Go start-up floor), and the cost of an
// allowed syscall (getppid) with no filter and under the loader's filter.
//
// hostile times the loader, --show and the stamper on the hostile files
// of issue 13 (internal/hostile: 65,000 program headers; a 256 MiB sparse
// file declaring 4 million section headers), beside an ordinary program
// and files at the reader's bounds, and reports each one's peak resident
// set, measured from a small C process so that the benchmark's own memory
// does not count.
//
// embedbench measures, interleaved in one run, a trivial static and a
// trivial dynamic C program run directly, embedded (sysrestrict-stamp
// --embed: the stub installs the filter) and through sysrestrict-exec,
// with medians, 90th percentiles and minor page faults, and how much
// embedding grew each file (issue 11: embedded <= direct + 0.1 ms).
//
// auditbench runs, interleaved, a getppid loop through sysrestrict-exec
// and under --audit, with a note that restricts what the loop never calls
// (the ratio of the two, and the supervisor's fixed start-up from runs
// that make no call), and a loop whose every call is restricted (the cost
// of each call --audit lets through), with the minor page faults of each.
package bench
