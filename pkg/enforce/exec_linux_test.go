//go:build linux

package enforce

import (
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
// when seccomp rejects the program (stage 2) and when the execveat fails
// with the filter in (stage 3).
func TestInstallExecStages(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stage uintptr
		errno syscall.Errno
	}{
		{"bad program", 2, unix.EINVAL},
		{"exec fails", 3, unix.EACCES},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testutil.RunInSubprocess(t, func() {
				argv, _ := syscall.SlicePtrFromStrings([]string{"x"})
				envp, _ := syscall.SlicePtrFromStrings(nil)
				prog := &unix.SockFprog{} // zero instructions: EINVAL
				fd := 0
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
					uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), 0)
				if stage != tt.stage || syscall.Errno(errno) != tt.errno {
					t.Errorf("installExec = stage %d, errno %v; want stage %d, errno %v", stage, syscall.Errno(errno), tt.stage, tt.errno)
				}
			})
		})
	}
}
