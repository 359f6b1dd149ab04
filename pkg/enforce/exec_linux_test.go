//go:build linux

package enforce

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"golang.org/x/sys/unix"
)

// TestInstallExecStages runs installExec (assembly on amd64) in a child —
// the test binary re-executed — and checks the stage and errno it reports
// when seccomp rejects the program (stage 2) and when the execveat fails
// with the filter in (stage 3).
func TestInstallExecStages(t *testing.T) {
	if mode := os.Getenv("ENFORCE_TEST_CHILD"); mode != "" {
		installExecChild(mode)
		return
	}
	for _, tt := range []struct{ mode, want string }{
		{"bad-program", "stage 2 errno invalid argument"},
		{"exec-fails", "stage 3 errno permission denied"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallExecStages$")
		cmd.Env = append(os.Environ(), "ENFORCE_TEST_CHILD="+tt.mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: child: %v\n%s", tt.mode, err, out)
			continue
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("%s: child said %q, want %q", tt.mode, out, tt.want)
		}
	}
}

func installExecChild(mode string) {
	argv, _ := syscall.SlicePtrFromStrings([]string{"x"})
	envp, _ := syscall.SlicePtrFromStrings(nil)
	var prog *unix.SockFprog
	fd := 0
	switch mode {
	case "bad-program":
		prog = &unix.SockFprog{} // zero instructions: EINVAL
	case "exec-fails":
		f, err := filter.Build(bitmap.NewSet(NativeABI()), filter.Options{})
		if err != nil {
			panic(err)
		}
		prog, _ = fprog(f)
		fd, err = unix.Open("/dev/null", unix.O_RDONLY, 0) // not executable: EACCES
		if err != nil {
			panic(err)
		}
	}
	if lockThread {
		// The generic version needs it; the test stays on this thread.
		runtime.LockOSThread()
	}
	stage, errno := installExec(uintptr(unsafe.Pointer(prog)), uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), 0)
	fmt.Printf("stage %d errno %v\n", stage, syscall.Errno(errno))
	os.Exit(0)
}
