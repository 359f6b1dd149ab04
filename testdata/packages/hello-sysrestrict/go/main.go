// Command hello-go is the Go program of the test package: standard library
// only, so that it builds offline. With no argument it greets; "ptrace"
// calls ptrace(PTRACE_TRACEME), which its policy restricts: run through
// sysrestrict-exec, it dies of SIGSYS.
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ptrace" {
		_, _, errno := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		fmt.Println("ptrace returned, errno", int(errno))
		return
	}
	fmt.Println("hello from Go")
}
