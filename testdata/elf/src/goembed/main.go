// Command goembed is the Go victim of the --embed tests
// (pkg/elfnote/embedrun_test.go). It follows the fixture convention of
// gohello, and adds modes that print what happened; a mode whose syscall
// the filter kills prints nothing more and dies of SIGSYS:
//
//	goembed status         print the NoNewPrivs and Seccomp lines of /proc/self/status
//	goembed call NR        a raw syscall NR: "call NR: ret R"
//	goembed fork NR        a raw fork(2)ed child makes syscall NR: "child exit E" or "child signal S"
//	goembed thread NR      a goroutine on another OS thread makes syscall NR: "thread: ret R"
//	goembed exec PROG ARG  exec PROG
//
// NAME is set by the Makefile with -ldflags=-X=main.name=NAME.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

var name = "goembed"

func init() { runtime.LockOSThread() } // main stays on the main thread

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	nr := uintptr(0)
	if len(os.Args) > 2 {
		n, _ := strconv.Atoi(os.Args[2])
		nr = uintptr(n)
	}
	switch {
	case mode == "status":
		f, err := os.Open("/proc/self/status")
		if err != nil {
			os.Exit(2)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "NoNewPrivs:") || strings.HasPrefix(l, "Seccomp:") {
				fmt.Println(l)
			}
		}
		return
	case mode == "call" && len(os.Args) > 2:
		r, _, _ := syscall.RawSyscall(nr, 0, 0, 0)
		fmt.Printf("call %d: ret %d\n", nr, int(r))
		return
	case mode == "fork" && len(os.Args) > 2:
		// The child runs nothing but two raw system calls.
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			os.Exit(2)
		}
		if pid == 0 {
			syscall.RawSyscall(nr, 0, 0, 0)
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		var st syscall.WaitStatus
		if _, err := syscall.Wait4(int(pid), &st, 0, nil); err != nil {
			os.Exit(2)
		}
		if st.Signaled() {
			fmt.Printf("child signal %d\n", int(st.Signal()))
		} else {
			fmt.Printf("child exit %d\n", st.ExitStatus())
		}
		return
	case mode == "thread" && len(os.Args) > 2:
		done := make(chan uintptr)
		mainTid := syscall.Gettid()
		go func() {
			runtime.LockOSThread()
			if syscall.Gettid() == mainTid {
				os.Exit(3)
			}
			r, _, _ := syscall.RawSyscall(nr, 0, 0, 0)
			done <- r
		}()
		fmt.Printf("thread: ret %d\n", int(<-done))
		return
	case mode == "exec" && len(os.Args) > 2:
		err := syscall.Exec(os.Args[2], os.Args[2:], os.Environ())
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(2)
	}
	os.Stdout.WriteString("hello from " + name + "\n")
	if len(os.Args) > 2 && os.Args[1] == "exit" {
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	}
}
