//go:build linux

package stub

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/stub/asm"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The test programs: testdata/harness_<abi>.S at harnessAddr in a minimal
// static ELF file (ET_EXEC, no interpreter, so only the kernel, or qemu,
// decides how it starts), and a stub payload in a second segment. See the
// harness sources for what they check and the exit statuses they use.
const (
	harnessBase = 0x400000
	harnessOff  = 0x100 // past the ELF header and two program headers
	harnessAddr = harnessBase + harnessOff
	segAlign    = 0x10000 // aarch64 wants 64 KiB
)

// harness is an assembled harness, ready to be linked with a stub.
type harness struct {
	abi bitmap.ABI
	obj *asm.Object
}

func newHarness(t *testing.T, abi bitmap.ABI) *harness {
	t.Helper()
	obj, err := asm.Assemble(abi, filepath.Join("testdata", "harness_"+abi.String()+".S"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{abi, obj}
}

// addr returns the address label has in the linked program.
func (h *harness) addr(t *testing.T, label string) uint64 {
	t.Helper()
	off, ok := h.obj.Symbols[label]
	if !ok {
		t.Fatalf("harness_%v.S has no label %s", h.abi, label)
	}
	return harnessAddr + uint64(off)
}

// entry is the original entry a stub jumps to.
func (h *harness) entry(t *testing.T) uint64 { return h.addr(t, "entry") }

// link returns the ELF file of the harness with payload at stubAddr (no
// second segment if payload is nil); patch gets the harness code to fill
// in (its offsets are the labels').
func (h *harness) link(t *testing.T, stubAddr uint64, payload []byte, patch func(code []byte)) []byte {
	t.Helper()
	code := bytes.Clone(h.obj.Text)
	patch(code)

	machine := elf.EM_X86_64
	if h.abi == bitmap.AARCH64 {
		machine = elf.EM_AARCH64
	}
	hdrSize, phSize := binary.Size(elf.Header64{}), binary.Size(elf.Prog64{})
	phnum := 1
	if payload != nil {
		phnum = 2
	}
	if hdrSize+phnum*phSize > harnessOff {
		t.Fatal("headers overlap the harness")
	}
	end := uint64(harnessOff + len(code))
	progs := []elf.Prog64{{
		Type:   uint32(elf.PT_LOAD),
		Flags:  uint32(elf.PF_R | elf.PF_W | elf.PF_X),
		Vaddr:  harnessBase,
		Paddr:  harnessBase,
		Filesz: end,
		Memsz:  end,
		Align:  segAlign,
	}}
	var payloadOff uint64
	if payload != nil {
		// p_offset ≡ p_vaddr modulo the alignment, past the first segment.
		payloadOff = (end+segAlign-1)&^(segAlign-1) + stubAddr%segAlign
		progs = append(progs, elf.Prog64{
			Type:   uint32(elf.PT_LOAD),
			Flags:  uint32(elf.PF_R | elf.PF_X),
			Off:    payloadOff,
			Vaddr:  stubAddr,
			Paddr:  stubAddr,
			Filesz: uint64(len(payload)),
			Memsz:  uint64(len(payload)),
			Align:  segAlign,
		})
	}
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     h.addr(t, "prestub"),
		Phoff:     uint64(hdrSize),
		Ehsize:    uint16(hdrSize),
		Phentsize: uint16(phSize),
		Phnum:     uint16(phnum),
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)

	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, hdr)
	binary.Write(&b, binary.LittleEndian, progs)
	b.Write(make([]byte, harnessOff-b.Len()))
	b.Write(code)
	if payload != nil {
		b.Write(make([]byte, int(payloadOff)-b.Len()))
		b.Write(payload)
	}
	return b.Bytes()
}

// put writes v at label (plus off) in code.
func (h *harness) put(t *testing.T, code []byte, label string, off int, v uint64) {
	t.Helper()
	o, ok := h.obj.Symbols[label]
	if !ok {
		t.Fatalf("harness_%v.S has no label %s", h.abi, label)
	}
	binary.LittleEndian.PutUint64(code[o+off:], v)
}

// regValue is the distinctive value the harness loads into register i:
// never zero, never small, never an address, all different.
func regValue(i int) uint64 { return 0xdeadbeef00000000 + uint64(i+1)*0x01010101 }

// writeProgram writes an executable file of the given bytes.
func writeProgram(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// result is what a test program did.
type result struct {
	stdout, stderr string
	status         syscall.WaitStatus
}

// String reads like a shell would: "exit 0", "signal bad system call".
func (r result) String() string {
	s := r.status
	switch {
	case s.Exited():
		return "exit " + strconv.Itoa(s.ExitStatus())
	case s.Signaled():
		return "signal " + s.Signal().String()
	}
	return "status " + strconv.Itoa(int(s))
}

// run runs argv (argv[0] the program) with extra environment, and returns
// what it did; it fails the test if it could not be started or ran for
// more than 20 seconds.
func run(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd, killing it after 20 s, and returns how it ended.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("running %q: %v", cmd.Args, err)
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("%q ran for 20 s: killed", cmd.Args)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %q: %v", cmd.Args, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.Sys().(syscall.WaitStatus)}
}
