//go:build linux

package supervise

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// BenchmarkLearnOverhead runs the syscall-heavy victim (100,000 getppid
// calls) without supervision and under Record, side by side, and reports
// the ratio of the two run times and the time learning adds per syscall.
// `make bench` runs it: go test -run '^$' -bench LearnOverhead ./internal/supervise
func BenchmarkLearnOverhead(b *testing.B) {
	const calls = 100000
	bin := victim(b, "heavy")
	argv := []string{bin, strconv.Itoa(calls)}
	var plain, learn time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		p, ws, err := Record(context.Background(), Config{Path: bin, Argv: argv})
		if err != nil || ws != 0 {
			b.Fatalf("Record = %s, %v", Status(ws), err)
		}
		learn += time.Since(t1)
		plain += t1.Sub(t0)
		if len(p.Syscalls()) == 0 || p.Syscalls()[0].Count == 0 {
			b.Fatal("nothing recorded")
		}
	}
	b.ReportMetric(float64(plain)/float64(b.N)/1e6, "plain-ms")
	b.ReportMetric(float64(learn)/float64(b.N)/1e6, "learn-ms")
	b.ReportMetric(float64(learn)/float64(plain), "learn/plain")
	b.ReportMetric(float64(learn-plain)/float64(b.N)/calls, "ns-added/syscall")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkExplainOverhead runs the same victim under Explain with a note
// it never hits: allowed syscalls never stop, so the ratio is close to 1
// (the difference is the supervisor's start-up, the child's re-exec).
func BenchmarkExplainOverhead(b *testing.B) {
	const calls = 100000
	bin := victim(b, "heavy")
	argv := []string{bin, strconv.Itoa(calls)}
	note := bitmap.NewSet(bitmap.X86_64, 101) // ptrace
	var plain, explain time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		f, err := os.Open(bin)
		if err != nil {
			b.Fatal(err)
		}
		ws, err := Explain(context.Background(), Config{Path: bin, File: f, Argv: argv, Log: io.Discard}, note, bitmap.Set{}, elfnote.Actions{})
		f.Close()
		if err != nil || ws != 0 {
			b.Fatalf("Explain = %s, %v", Status(ws), err)
		}
		explain += time.Since(t1)
		plain += t1.Sub(t0)
	}
	b.ReportMetric(float64(explain)/float64(plain), "explain/plain")
	b.ReportMetric(float64(explain-plain)/float64(b.N)/1e6, "ms-added/run")
	b.ReportMetric(0, "ns/op")
}
