//go:build linux

package hostcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// probeI386Exec execs a minimal i386 ELF (minimalI386ELF). The capability
// is the exec itself: a kernel without IA-32 emulation, or with it switched
// off at run time (ia32_emulation=0), refuses it with ENOEXEC.
func probeI386Exec() Result {
	const how = "execve of a minimal i386 ELF"
	dir, err := os.MkdirTemp("", "sysrestrict-hostcap-")
	if err != nil {
		return Result{How: how + ": cannot make a directory for it: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	prog := filepath.Join(dir, "i386-exit")
	if err := os.WriteFile(prog, minimalI386ELF(i386Exit), 0o755); err != nil {
		return Result{How: how + ": cannot write it: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog)
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.ENOEXEC) {
			return Result{How: how + ": exec format error (ENOEXEC)"}
		}
		return Result{How: how + ": " + err.Error()}
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case err == nil || ws.Exited() && ws.ExitStatus() == i386Status:
		return Result{OK: true, How: fmt.Sprintf("%s: ran, exit %d", how, ws.ExitStatus())}
	case ws.Signaled():
		// The kernel loaded and started it: exec works, whatever then
		// became of its int $0x80.
		return Result{OK: true, How: fmt.Sprintf("%s: ran, then died of %v", how, ws.Signal())}
	default:
		return Result{OK: true, How: fmt.Sprintf("%s: ran, exit %d (want %d)", how, ws.ExitStatus(), i386Status)}
	}
}

// probeLandlock asks landlock_create_ruleset(NULL, 0,
// LANDLOCK_CREATE_RULESET_VERSION) for the ABI version
// (Documentation/userspace-api/landlock.rst). It creates no ruleset.
func probeLandlock() Result {
	const how = "landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION)"
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return Result{How: fmt.Sprintf("%s: %v", how, errno)}
	}
	return Result{OK: true, How: fmt.Sprintf("%s: ABI %d", how, v)}
}

// probeSeccomp reads the calling thread's seccomp mode
// (prctl(PR_GET_SECCOMP)): EINVAL means the kernel has no seccomp.
func probeSeccomp() Result {
	const how = "prctl(PR_GET_SECCOMP)"
	mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	if err != nil {
		return Result{How: fmt.Sprintf("%s: %v", how, err)}
	}
	return Result{OK: true, How: fmt.Sprintf("%s: mode %d", how, mode)}
}
