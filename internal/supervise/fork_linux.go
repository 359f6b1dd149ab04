package supervise

import "syscall"

type syscallProcAttr struct {
	Env   []string
	Files []uintptr
}

// forkExec starts path with PTRACE_TRACEME from the calling (locked)
// thread, which so becomes the tracer.
func forkExec(path string, argv []string, a *syscallProcAttr) (int, error) {
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   a.Env,
		Files: a.Files,
		Sys:   &syscall.SysProcAttr{Ptrace: true},
	})
}
