//go:build linux && !amd64

package enforce

import "golang.org/x/sys/unix"

// lockThread: the Go version of installExec needs the goroutine locked to
// its thread, or it could move between the three syscalls.
const lockThread = true

// installExec makes the syscalls of the exec path in a row (see
// exec_linux_amd64.s). Exec locks the thread first.
func installExec(fprog, fd, path, argv, envp, secret, ruleset uintptr) (stage, errno uintptr) {
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return 1, uintptr(e)
	}
	if ruleset != ^uintptr(0) {
		if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0, 0); e != 0 {
			return 4, uintptr(e)
		}
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, fprog, 0, 0, 0); e != 0 {
		return 2, uintptr(e)
	}
	_, _, e := unix.RawSyscall6(unix.SYS_EXECVEAT, fd, path, argv, envp, unix.AT_EMPTY_PATH, secret)
	return 3, uintptr(e)
}
