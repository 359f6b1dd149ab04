// Command hostile times the tools on the hostile files of issue 13 and
// reports their peak memory: a program header table of 65,000 entries
// (the kernel loads at most 64 KiB of them) and a 256 MiB sparse file
// whose section header table, with extended numbering, fills it; each
// beside a file at the reader's bound (1,170 program headers; 65,536
// section headers) and an ordinary program. make bench runs it:
//
//	go run ./internal/bench/hostile -bin bin
//
// Before issue 13 the first took the loader 8 s and the stamper 27.6 s,
// the second made them use 528 MB and 1 GB.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/hostile"
)

var (
	bin  = flag.String("bin", "bin", "the directory holding sysrestrict-exec and sysrestrict-stamp")
	runs = flag.Int("runs", 5, "runs of each command (the median is shown)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	loader, stamper := filepath.Join(dir, "sysrestrict-exec"), filepath.Join(dir, "sysrestrict-stamp")
	for _, p := range []string{loader, stamper} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%v; make build first", err)
		}
	}
	work, err := os.MkdirTemp("", "hostile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	path := func(name string) string { return filepath.Join(work, name) }
	spawn := path("spawn")
	if err := os.WriteFile(spawn+".c", []byte(spawnC), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("cc", "-O2", "-o", spawn, spawn+".c").CombinedOutput(); err != nil {
		return fmt.Errorf("cc spawn.c: %v\n%s", err, out)
	}
	files := []struct {
		name  string
		write func(string) error
	}{
		{"ordinary program (/bin/true)", func(p string) error { return copyFile("/bin/true", p) }},
		{"65,000 program headers", func(p string) error { return hostile.WritePhdrs(p, hostile.Phnum) }},
		{"1,170 program headers (the bound)", func(p string) error { return hostile.WritePhdrs(p, 1170) }},
		{"256 MiB sparse, 4M section headers", func(p string) error { return hostile.WriteSparse(p, 256<<20) }},
		{"sparse, 65,536 section headers (the bound)", func(p string) error { return hostile.WriteSparse(p, 4096+65536*64) }},
	}
	fmt.Printf("%-44s %-28s %10s %10s  %s\n", "file", "command", "median", "max RSS", "status")
	for i, f := range files {
		p := path(fmt.Sprintf("f%d", i))
		if err := f.write(p); err != nil {
			return err
		}
		for _, c := range []struct {
			name string
			argv []string
		}{
			{"sysrestrict-exec FILE", []string{loader, p}},
			{"sysrestrict-stamp --show", []string{stamper, "--show", p}},
			{"sysrestrict-stamp --deny -o", []string{stamper, "-q", "--deny", "ptrace", "-o", path("out"), p}},
		} {
			var times []time.Duration
			var rss int64
			var status string
			for range *runs {
				d, maxrss, st, err := measure(spawn, c.argv)
				if err != nil {
					return fmt.Errorf("%s: %v", strings.Join(c.argv, " "), err)
				}
				times = append(times, d)
				rss, status = max(rss, maxrss), st
			}
			slices.Sort(times)
			fmt.Printf("%-44s %-28s %8.1fms %8.1fMB  %s\n", f.name, c.name, float64(times[len(times)/2])/1e6, float64(rss)/1024, status)
		}
	}
	return nil
}

// spawnC is a small C program that runs its arguments and prints the
// child's wall time (ns), peak resident set (KiB) and wait status. A
// child's ru_maxrss starts at its parent's resident set (the memory it
// was forked from counts until the exec), so the tools are started from
// this small process, not from the Go benchmark and its files in memory.
const spawnC = `#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	int st; struct rusage ru;
	wait4(pid, &st, 0, &ru);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld %ld %d\n", (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), ru.ru_maxrss, st);
	return 0;
}
`

// measure runs argv through spawn, with no input and its output
// discarded, and returns its wall time, its peak resident set (KiB: the
// tool's own, or what it exec'd, whichever was larger) and how it ended.
func measure(spawn string, argv []string) (time.Duration, int64, string, error) {
	cmd := exec.Command(spawn, argv...)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, "", err
	}
	var ns, rss int64
	var st int
	if _, err := fmt.Sscan(string(out), &ns, &rss, &st); err != nil {
		return 0, 0, "", fmt.Errorf("spawn printed %q: %v", out, err)
	}
	ws := syscall.WaitStatus(st)
	status := fmt.Sprintf("exit %d", ws.ExitStatus())
	if ws.Signaled() {
		status = "signal " + ws.Signal().String()
	}
	return time.Duration(ns), rss, status, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
