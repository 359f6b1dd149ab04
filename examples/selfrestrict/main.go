// Command selfrestrict shows enforce.Restrict: a Go program that gives up
// syscalls at run time, for all its threads, for good.
//
//	selfrestrict           restrict ptrace (EPERM) then execve/execveat
//	                       (EACCES) and show both in force, in a thread that
//	                       existed before
//	selfrestrict -kill     restrict execve/execveat with the default
//	                       action: its own exec kills the process (SIGSYS),
//	                       as a forked child's exec kills the child
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/enforce"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

func restrict(list string, act filter.Action) {
	set, err := bitmap.Parse(enforce.NativeABI(), list)
	if err == nil {
		err = enforce.Restrict(set, act)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "selfrestrict:", err)
		os.Exit(1)
	}
	fmt.Printf("restricted %s (%v)\n", set, act)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-kill" {
		restrict("execve,execveat", filter.Kill())
		err := syscall.Exec("/bin/true", []string{"true"}, nil)
		fmt.Println("not reached:", err)
		return
	}

	// A thread that exists before the restriction: TSYNC gives it the
	// filter too.
	ask, answer := make(chan struct{}), make(chan syscall.Errno)
	go func() {
		runtime.LockOSThread()
		<-ask
		_, _, e := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		answer <- e
	}()

	restrict("ptrace", filter.Errno(int(syscall.EPERM)))
	restrict("execve,execveat", filter.Errno(int(syscall.EACCES)))

	ask <- struct{}{}
	fmt.Println("ptrace in an older thread:", <-answer)
	fmt.Println("exec /bin/true:", exec.Command("/bin/true").Run())
}
