//go:build linux && amd64

package execcli

import (
	"encoding/binary"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestDumpRawIsInstalled checks that --dump=raw prints what the loader
// installs. It traces the loader (the test is the unfiltered root tracer
// PTRACE_SECCOMP_GET_FILTER needs), notes the registers of its execveat,
// and at the exec event reads the filter back from the kernel. The two
// filters must be equal byte for byte but for the 64-bit secret, drawn
// afresh on every run; the installed secret must be the one in the
// execveat's sixth argument register, and the gate's fd the one in its
// first.
func TestDumpRawIsInstalled(t *testing.T) {
	need(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("PTRACE_SECCOMP_GET_FILTER needs root (CAP_SYS_ADMIN); CI runs as root")
		}
		t.Skip("PTRACE_SECCOMP_GET_FILTER needs root (CAP_SYS_ADMIN)")
	}
	args := []string{"--deny", "execve,execveat,ptrace,socket", victim, "getppid"}

	dumped := load(t, append([]string{"--dump=raw"}, args...)...)
	if dumped.status != 0 || len(dumped.stdout) == 0 || len(dumped.stdout)%8 != 0 {
		t.Fatalf("--dump=raw: %v", dumped)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(loader, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Process.Kill()
	var ws syscall.WaitStatus
	wait := func() {
		t.Helper()
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatalf("wait4: %v", err)
		}
		if ws.Exited() || ws.Signaled() {
			t.Fatalf("the loader ended while traced: %v", ws)
		}
	}
	wait() // the stop at the loader's own exec
	if err := syscall.PtraceSetOptions(pid, unix.PTRACE_O_TRACEEXEC|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		t.Fatal(err)
	}
	var regs syscall.PtraceRegs
	var gateRegs *syscall.PtraceRegs
	sig := 0
	for {
		if err := syscall.PtraceSyscall(pid, sig); err != nil {
			t.Fatalf("PTRACE_SYSCALL: %v", err)
		}
		wait()
		sig = 0
		switch {
		case ws.StopSignal() == syscall.SIGTRAP|0x80: // syscall stop
			if err := syscall.PtraceGetRegs(pid, &regs); err != nil {
				t.Fatal(err)
			}
			if regs.Orig_rax == unix.SYS_EXECVEAT && int64(regs.Rax) == -int64(unix.ENOSYS) && gateRegs == nil {
				r := regs
				gateRegs = &r
			}
			continue
		case ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXEC:
		case ws.StopSignal() == syscall.SIGTRAP:
			continue
		default:
			sig = int(ws.StopSignal())
			continue
		}
		break
	}
	if gateRegs == nil {
		t.Fatal("saw the exec event but no execveat entry")
	}

	// The victim is stopped right after its exec, under the filter.
	n, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER (count): %v", e)
	}
	buf := make([]unix.SockFilter, n)
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), 0, uintptr(unsafe.Pointer(&buf[0])), 0, 0); e != 0 {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", e)
	}
	installed := make([]byte, 0, 8*len(buf))
	for _, ins := range buf {
		installed = binary.LittleEndian.AppendUint16(installed, ins.Code)
		installed = append(installed, ins.Jt, ins.Jf)
		installed = binary.LittleEndian.AppendUint32(installed, ins.K)
	}

	// Mask the secret: the K of the jeq after ld [56] and ld [60]
	// (args[5] low and high), after checking the installed one is the
	// execveat's r9.
	secretHalves := map[uint32]uint32{56: uint32(gateRegs.R9), 60: uint32(gateRegs.R9 >> 32)}
	mask := func(b []byte, check bool) []byte {
		b = append([]byte(nil), b...)
		masked := 0
		for i := 8; i+8 <= len(b); i += 8 {
			prevOp := binary.LittleEndian.Uint16(b[i-8:])
			prevK := binary.LittleEndian.Uint32(b[i-4:])
			if prevOp != 0x20 {
				continue
			}
			k := binary.LittleEndian.Uint32(b[i+4:])
			switch prevK {
			case 56, 60:
				if check && k != secretHalves[prevK] {
					t.Errorf("installed secret half at [%d] = %#x, execveat's r9 gives %#x", prevK, k, secretHalves[prevK])
				}
				binary.LittleEndian.PutUint32(b[i+4:], 0)
				masked++
			case 16:
				if check && k != uint32(gateRegs.Rdi) {
					t.Errorf("installed gate fd = %d, execveat's fd = %d", k, gateRegs.Rdi)
				}
			}
		}
		if masked != 2 {
			t.Errorf("found %d secret compares, want 2", masked)
		}
		return b
	}
	if gateRegs.R8 != unix.AT_EMPTY_PATH {
		t.Errorf("execveat flags = %#x, want AT_EMPTY_PATH", gateRegs.R8)
	}
	if diff := cmp.Diff(mask([]byte(dumped.stdout), false), mask(installed, true)); diff != "" {
		t.Errorf("--dump=raw differs from the installed filter (-dump +installed):\n%s", diff)
	}

	// Let the victim go: it runs under the filter and ends well.
	if err := syscall.PtraceDetach(pid); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("victim after detach: %v, want exit 0", ws)
	}
}
