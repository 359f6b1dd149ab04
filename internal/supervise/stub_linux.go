package supervise

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// The auxiliary vector entries the stub skip reads (include/uapi/linux/auxvec.h).
const (
	atNull  = 0
	atBase  = 7 // the interpreter's load address; 0 without one
	atEntry = 9 // the program's entry point, as loaded: e_entry + load bias
)

// Bounds on the initial stack the skip walks. The kernel built it, but
// the walk is bounded anyway: argv and envp pointers (the kernel allows at
// most a quarter of the stack limit for the strings, so a few million
// pointers), then the auxiliary vector (a few dozen entries).
const (
	maxStackWords = 1 << 24
	maxAuxv       = 1 << 10
)

// skipStub makes PROGRAM, stopped at its PTRACE_EVENT_EXEC (pid), start at
// its original entry point instead of its start-up stub (docs/embed.md,
// "Under the loader and its supervisor"): the supervisor's own filter already
// enforces the note, and the stub's would make its kills win over the
// supervisor's TRACE and LOG (seccomp takes the most severe action of all
// filters).
//
// At the exec stop the kernel has loaded the program and built its stack,
// and nothing of it has run. The stub is at AT_ENTRY = s.Addr + bias (the
// load bias: 0 for ET_EXEC, the load address for a PIE). skipStub checks
// that the memory there holds exactly s.Payload, then rewrites the
// auxiliary vector's AT_ENTRY to s.Entry + bias, which is where ld.so
// jumps when it is done (a dynamic program: the kernel entered the
// interpreter, AT_BASE != 0), and, for a program entered directly (static,
// static-pie: AT_BASE == 0), the instruction pointer too, which the kernel
// set to AT_ENTRY. Any mismatch is an error, and the caller kills the
// program: nothing of it runs unless the skip was exact. s is what the
// loader read from the note and checked against the file (VerifyEmbed):
// the stub's address, its payload and the entry it jumps to agree.
func skipStub(pid int, s *Stub) error {
	pc, sp, err := entryRegs(pid)
	if err != nil {
		return fmt.Errorf("reading registers: %w", err)
	}
	mem, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/mem", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /proc/%d/mem: %w", pid, err)
	}
	defer unix.Close(mem)
	m := &memReader{fd: mem}

	slot, entry, base, err := findAuxv(m, sp)
	if err != nil {
		return err
	}
	bias := entry - s.Addr
	switch {
	case s.Fixed && bias != 0:
		return fmt.Errorf("AT_ENTRY is %#x, not the stub's address %#x (a program loaded at its fixed addresses)", entry, s.Addr)
	case bias%pageSize != 0:
		return fmt.Errorf("AT_ENTRY %#x is not the stub's address %#x plus a page-aligned load bias", entry, s.Addr)
	}
	got := make([]byte, len(s.Payload))
	if err := m.read(got, entry); err != nil {
		return fmt.Errorf("reading the stub at %#x: %w", entry, err)
	}
	if !bytes.Equal(got, s.Payload) {
		return fmt.Errorf("the memory at AT_ENTRY %#x is not the stub the file holds", entry)
	}
	target := s.Entry + bias
	direct := base == 0 // no interpreter: the kernel entered the program itself
	switch {
	case direct && pc != entry:
		return fmt.Errorf("no interpreter (AT_BASE 0), but the program counter %#x is not AT_ENTRY %#x", pc, entry)
	case !direct && pc == entry:
		return fmt.Errorf("an interpreter at %#x, but the program counter is AT_ENTRY %#x", base, entry)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], target)
	if n, err := unix.Pwrite(mem, b[:], int64(slot)); err != nil || n != len(b) {
		return fmt.Errorf("writing AT_ENTRY at %#x: %d bytes, %v", slot, n, err)
	}
	if direct {
		if err := setPC(pid, target); err != nil {
			return fmt.Errorf("setting the program counter: %w", err)
		}
	}
	return nil
}

// pageSize is the smallest page size of the ABIs with a stub: a load bias
// is a multiple of it.
const pageSize = 4096

// findAuxv walks the initial stack at sp (System V x86-64 psABI 3.4.1;
// the same layout on aarch64, fs/binfmt_elf.c create_elf_tables): argc,
// argv[0..argc-1], NULL, envp..., NULL, then the auxiliary vector of
// (type, value) pairs up to AT_NULL. It returns the address of AT_ENTRY's
// value, that value and AT_BASE's.
func findAuxv(m *memReader, sp uint64) (slot, entry, base uint64, err error) {
	argc, err := m.word(sp)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("reading argc at %#x: %w", sp, err)
	}
	if argc >= maxStackWords {
		return 0, 0, 0, fmt.Errorf("argc %d at %#x", argc, sp)
	}
	p := sp + 8 + 8*argc
	if w, err := m.word(p); err != nil || w != 0 {
		return 0, 0, 0, fmt.Errorf("argv[argc] at %#x is %#x, not NULL (%v)", p, w, err)
	}
	p += 8
	for n := 0; ; n++ {
		w, err := m.word(p)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("reading envp at %#x: %w", p, err)
		}
		p += 8
		if w == 0 {
			break
		}
		if n == maxStackWords {
			return 0, 0, 0, errors.New("no end to envp")
		}
	}
	found := false
	for range maxAuxv {
		typ, err := m.word(p)
		if err == nil {
			var v uint64
			if v, err = m.word(p + 8); err == nil {
				switch typ {
				case atNull:
					if !found {
						return 0, 0, 0, errors.New("no AT_ENTRY in the auxiliary vector")
					}
					return slot, entry, base, nil
				case atEntry:
					if found {
						return 0, 0, 0, errors.New("two AT_ENTRY in the auxiliary vector")
					}
					slot, entry, found = p+8, v, true
				case atBase:
					base = v
				}
			}
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("reading the auxiliary vector at %#x: %w", p, err)
		}
		p += 16
	}
	return 0, 0, 0, errors.New("no end to the auxiliary vector")
}

// memReader reads a stopped tracee's memory through /proc/PID/mem, a page
// at a time.
type memReader struct {
	fd   int
	buf  [pageSize]byte
	at   uint64 // address of buf[0]
	have int    // valid bytes in buf
}

// word returns the little-endian u64 at addr.
func (m *memReader) word(addr uint64) (uint64, error) {
	if addr < m.at || addr+8 > m.at+uint64(m.have) || addr+8 < addr {
		m.at, m.have = addr, 0
		n, err := unix.Pread(m.fd, m.buf[:], int64(addr))
		if n < 8 {
			if err == nil {
				err = unix.EIO
			}
			return 0, err
		}
		m.have = n
	}
	return binary.LittleEndian.Uint64(m.buf[addr-m.at:]), nil
}

// read fills b from addr.
func (m *memReader) read(b []byte, addr uint64) error {
	n, err := unix.Pread(m.fd, b, int64(addr))
	if err == nil && n != len(b) {
		err = unix.EIO
	}
	return err
}
