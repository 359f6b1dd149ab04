//go:build linux && amd64

package stub

import (
	"encoding/binary"
	"os/exec"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The aarch64 stub under qemu-aarch64 (qemu-user; CI installs it). qemu
// 7.2 passes prctl(PR_SET_NO_NEW_PRIVS) to the host but answers seccomp()
// with ENOSYS (docs/embed.md), so the stub Build makes must fail closed
// there; with the test switch that takes ENOSYS for success, the stub runs
// the program, which checks that every register came through.

const (
	stubAddrA64Near = harnessBase + 0x100000   // b reaches the entry
	stubAddrA64Far  = harnessBase + 0x10000000 // 256 MiB up: adrp, add, br x16
	a64NZCV         = 0xa0000000               // N and C set, Z and V clear
)

func qemuAArch64(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Fatalf("qemu-aarch64 (Debian: qemu-user): %v", err)
	}
	return path
}

// a64Program returns the harness linked with payload at stubAddr (nil: no
// stub, the harness branches to its entry itself) as a file.
func a64Program(t *testing.T, h *harness, payload []byte, stubAddr uint64) string {
	t.Helper()
	entry := h.entry(t)
	b := h.link(t, stubAddr, payload, func(code []byte) {
		for i := range 31 {
			v := regValue(i)
			want := v
			if i == 16 { // prestub branches by br x16, as ld.so does
				v = stubAddr
				if payload == nil {
					v = entry
				}
				want = v
				if payload != nil && stubAddr == stubAddrA64Far {
					want = entry // the far jump's scratch register
				}
			}
			h.put(t, code, "load", 8*i, v)
			h.put(t, code, "want", 8*i, want)
		}
		h.put(t, code, "load", 8*31, a64NZCV)
		h.put(t, code, "want", 8*31, a64NZCV)
	})
	return writeProgram(t, "embedded-aarch64", b)
}

func a64Payload(t *testing.T, h *harness, stubAddr uint64, acceptENOSYS bool) []byte {
	t.Helper()
	p, err := build(bitmap.AARCH64, testFilter(t, bitmap.AARCH64), stubAddr, h.entry(t), acceptENOSYS)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStubAArch64UnderQemu runs the aarch64 stub, near and far from the
// entry, as Build makes it (fails closed: seccomp() is ENOSYS under qemu)
// and with the test switch (runs the program, registers intact), and the
// harness without a stub as the control.
func TestStubAArch64UnderQemu(t *testing.T) {
	qemu := qemuAArch64(t)
	h := newHarness(t, bitmap.AARCH64)
	enosys := func(prog string) string {
		return prog + ": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 38\n"
	}
	for _, tt := range []struct {
		name     string
		payload  []byte
		stubAddr uint64
		want     string
		stdout   string
		stderr   func(prog string) string
	}{
		{"no stub (control)", nil, stubAddrA64Near, "exit 0", "ran\n", nil},
		{"Build's stub, b", a64Payload(t, h, stubAddrA64Near, false), stubAddrA64Near, "exit 126", "", enosys},
		{"Build's stub, br x16", a64Payload(t, h, stubAddrA64Far, false), stubAddrA64Far, "exit 126", "", enosys},
		{"ENOSYS switch, b", a64Payload(t, h, stubAddrA64Near, true), stubAddrA64Near, "exit 0", "ran\n", nil},
		{"ENOSYS switch, br x16", a64Payload(t, h, stubAddrA64Far, true), stubAddrA64Far, "exit 0", "ran\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prog := a64Program(t, h, tt.payload, tt.stubAddr)
			r := run(t, nil, qemu, prog)
			t.Logf("%v, stdout %q, stderr %q", r, r.stdout, r.stderr)
			wantErr := ""
			if tt.stderr != nil {
				wantErr = tt.stderr(prog)
			}
			if r.String() != tt.want || r.stdout != tt.stdout || r.stderr != wantErr {
				t.Errorf("%v, stdout %q, stderr %q; want %s, stdout %q, stderr %q", r, r.stdout, r.stderr, tt.want, tt.stdout, wantErr)
			}
		})
	}
}

// TestStubAArch64RegisterCheck shows the harness's check can fail: a stub
// that restores x0 and x1 swapped (ldp x1, x0) leaves x0, index 0, wrong:
// exit 10.
func TestStubAArch64RegisterCheck(t *testing.T) {
	qemu := qemuAArch64(t)
	h := newHarness(t, bitmap.AARCH64)
	p := a64Payload(t, h, stubAddrA64Near, true)
	off := sourceLabel(t, bitmap.AARCH64, "installed") + 12
	const ldpX0X1, ldpX1X0 = 0xa94107e0, 0xa94103e1 // ldp x0, x1, [sp, #16]; ldp x1, x0, [sp, #16]
	if got := binary.LittleEndian.Uint32(p[off:]); got != ldpX0X1 {
		t.Fatalf("instruction at %#x = %#x, want ldp x0, x1, [sp, #16]", off, got)
	}
	binary.LittleEndian.PutUint32(p[off:], ldpX1X0)
	if r := run(t, nil, qemu, a64Program(t, h, p, stubAddrA64Near)); r.String() != "exit 10" || r.stdout != "" {
		t.Errorf("stub that swaps x0 and x1: %v, stdout %q; want exit 10 and nothing run", r, r.stdout)
	}
}

// TestStubAArch64FailsClosed makes the aarch64 stub's prctl fail (qemu
// passes it to the host, where a parent filter answers EPERM): one line,
// exit 126, nothing run.
func TestStubAArch64FailsClosed(t *testing.T) {
	qemu := qemuAArch64(t)
	h := newHarness(t, bitmap.AARCH64)
	prog := a64Program(t, h, a64Payload(t, h, stubAddrA64Near, false), stubAddrA64Near)
	r := runCmd(t, viaChild(t, "deny-prctl", []string{qemu, prog}))
	t.Logf("%v, stdout %q, stderr %q", r, r.stdout, r.stderr)
	want := prog + ": sysrestrict: prctl(PR_SET_NO_NEW_PRIVS) failed: errno 1\n"
	if r.String() != "exit 126" || r.stdout != "" || r.stderr != want {
		t.Errorf("%v, stdout %q, stderr %q; want exit 126, nothing run, stderr %q", r, r.stdout, r.stderr, want)
	}
}
