package supervise

import "syscall"

type syscallProcAttr struct {
	Env   []string
	Files []uintptr
}

// forkExec starts path; the caller then seizes it.
func forkExec(path string, argv []string, a *syscallProcAttr) (int, error) {
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   a.Env,
		Files: a.Files,
	})
}
