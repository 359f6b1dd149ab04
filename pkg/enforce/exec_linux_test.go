//go:build linux

package enforce

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"golang.org/x/sys/unix"
)

// TestInstallExecStages runs installExec (assembly on amd64) in a child —
// the test binary re-executed — and checks the stage and errno it reports
// when seccomp rejects the program (stage 2), when the execveat fails
// with the filter in (stage 3), and when landlock_restrict_self fails
// (stage 4, before seccomp: the program given would fail there too).
func TestInstallExecStages(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stage uintptr
		errno syscall.Errno
	}{
		{"bad program", 2, unix.EINVAL},
		{"exec fails", 3, unix.EACCES},
		{"bad ruleset", 4, unix.EBADFD},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testutil.RunInSubprocess(t, func() {
				argv, _ := syscall.SlicePtrFromStrings([]string{"x"})
				envp, _ := syscall.SlicePtrFromStrings(nil)
				prog := &unix.SockFprog{} // zero instructions: EINVAL
				fd := 0
				ruleset := ^uintptr(0) // none
				if tt.stage == 4 {
					// Not a Landlock ruleset: landlock_restrict_self
					// fails (EBADFD) before any filter is installed.
					rfd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					ruleset = uintptr(rfd)
				}
				if tt.stage == 3 {
					f, err := filter.Build(bitmap.NewSet(NativeABI()), filter.Options{})
					if err != nil {
						t.Fatal(err)
					}
					prog, _ = fprog(f)
					fd, err = unix.Open("/dev/null", unix.O_RDONLY, 0) // not executable: EACCES
					if err != nil {
						t.Fatal(err)
					}
				}
				if lockThread {
					// The generic version needs it; the child stays on
					// this thread.
					runtime.LockOSThread()
				}
				stage, errno := installExec(uintptr(unsafe.Pointer(prog)), uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
					uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), 0, ruleset)
				if stage != tt.stage || syscall.Errno(errno) != tt.errno {
					t.Errorf("installExec = stage %d, errno %v; want stage %d, errno %v", stage, syscall.Errno(errno), tt.stage, tt.errno)
				}
			})
		})
	}
}

// TestScopePtrace: a child (the test binary re-executed) can open its
// parent's /proc/PID/mem for writing, then, in the Landlock domain of
// ScopePtrace, cannot (EACCES), nor attach to it (EPERM).
func TestScopePtrace(t *testing.T) {
	if _, err := LandlockABI(); err != nil {
		t.Skipf("%v (probed with landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION))", err)
	}
	testutil.RunInSubprocess(t, func() {
		runtime.LockOSThread()
		mem := fmt.Sprintf("/proc/%d/mem", os.Getppid())
		fd, err := unix.Open(mem, unix.O_RDWR, 0)
		if err != nil {
			t.Fatalf("before ScopePtrace: open(%s, O_RDWR): %v", mem, err)
		}
		unix.Close(fd)
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := ScopePtrace(); err != nil {
			t.Fatalf("ScopePtrace: %v", err)
		}
		if _, err := unix.Open(mem, unix.O_RDWR, 0); err != unix.EACCES {
			t.Errorf("in the domain: open(%s, O_RDWR) = %v, want EACCES", mem, err)
		}
		if err := unix.PtraceAttach(os.Getppid()); err != unix.EPERM {
			t.Errorf("in the domain: PTRACE_ATTACH to the parent = %v, want EPERM", err)
		}
	})
}
