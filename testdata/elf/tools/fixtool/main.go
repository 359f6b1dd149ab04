// Command fixtool builds the derived and malformed files of the ELF fixture
// corpus and writes its manifest, fixtures.json. The Makefile runs it; it
// lives under testdata, so `go build ./...` and `go test ./...` skip it.
//
// Usage:
//
//	fixtool ptnull IN OUT   copy IN to OUT with one harmless PT_NOTE turned into PT_NULL
//	fixtool bad NAME SRC    write the malformed file NAME, derived from SRC
//	fixtool manifest        print fixtures.json for the fixtures in the current directory
//	fixtool facts FILE...   print the program header facts of each FILE
//
// # PT_NULL
//
// gcc 12 with GNU ld 2.40 gives an x86_64 PIE two PT_NOTE entries; the first
// covers exactly .note.gnu.property, which PT_GNU_PROPERTY also covers (and
// is what glibc and the kernel read). ptnull turns that PT_NOTE into an
// all-zero PT_NULL entry: the program runs as before, and a stamper has a
// free program header slot to reuse.
package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fixtool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: fixtool ptnull|bad|manifest|facts ARGS")
	}
	switch cmd, args := args[0], args[1:]; {
	case cmd == "ptnull" && len(args) == 2:
		return ptnull(args[0], args[1])
	case cmd == "bad" && len(args) == 2:
		return bad(args[0], args[1])
	case cmd == "manifest" && len(args) == 0:
		return manifest(os.Stdout)
	case cmd == "facts":
		for _, name := range args {
			f, err := factsOf(name)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(f)
			fmt.Printf("%s: %s\n", name, b)
		}
		return nil
	}
	return fmt.Errorf("bad arguments: %q", args)
}

// ptnull writes OUT: IN with the PT_NOTE that duplicates PT_GNU_PROPERTY
// replaced by an all-zero (PT_NULL) program header.
func ptnull(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if f.Class != elf.ELFCLASS64 {
		return fmt.Errorf("%s: only ELFCLASS64 is handled", in)
	}
	var prop *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_PROPERTY {
			prop = p
		}
	}
	if prop == nil {
		return fmt.Errorf("%s: no PT_GNU_PROPERTY", in)
	}
	phoff := f.ByteOrder.Uint64(data[0x20:])
	phentsize := uint64(f.ByteOrder.Uint16(data[0x36:]))
	for i, p := range f.Progs {
		if p.Type == elf.PT_NOTE && p.Off == prop.Off && p.Filesz == prop.Filesz {
			off := phoff + uint64(i)*phentsize
			clear(data[off : off+phentsize])
			return os.WriteFile(out, data, 0o755)
		}
	}
	return fmt.Errorf("%s: no PT_NOTE covering the same bytes as PT_GNU_PROPERTY", in)
}

// bad writes the malformed file name, derived from the ELF file src.
func bad(name, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if len(data) < 64 || !bytes.HasPrefix(data, []byte(elf.ELFMAG)) || data[elf.EI_CLASS] != byte(elf.ELFCLASS64) || data[elf.EI_DATA] != byte(elf.ELFDATA2LSB) {
		return fmt.Errorf("%s: not a little-endian ELFCLASS64 file", src)
	}
	le := binary.LittleEndian
	phoff := le.Uint64(data[0x20:])
	phentsize := uint64(le.Uint16(data[0x36:]))
	phnum := uint64(le.Uint16(data[0x38:]))
	mode := os.FileMode(0o644)
	switch name {
	case "not-elf-script":
		// An executable that is not ELF: a shell script the kernel runs
		// through #!. It follows the fixture convention.
		data = []byte("#!/bin/sh\n# not an ELF file\necho \"hello from not-elf-script\"\n" +
			"if [ \"$1\" = exit ]; then exit \"$2\"; fi\n")
		mode = 0o755
	case "bad-empty":
		data = nil
	case "bad-truncated":
		// The ELF header and the first half of the program header table.
		data = data[:phoff+phentsize*phnum/2]
	case "bad-phdr-past-eof":
		// e_phoff so that the table starts inside the file but ends past EOF.
		le.PutUint64(data[0x20:], uint64(len(data))-phentsize)
	case "bad-core":
		// The same bytes with e_type ET_CORE.
		le.PutUint16(data[0x10:], uint16(elf.ET_CORE))
	default:
		return fmt.Errorf("unknown malformed fixture %q", name)
	}
	return os.WriteFile(name, data, mode)
}

// Facts are what a stamper looks at in a file's headers.
type Facts struct {
	Type      string `json:"type"`       // e_type
	Phnum     int    `json:"phnum"`      // program headers
	PTPhdr    bool   `json:"pt_phdr"`    // has PT_PHDR
	PTInterp  bool   `json:"pt_interp"`  // has PT_INTERP
	PTNull    int    `json:"pt_null"`    // PT_NULL entries
	PTNote    int    `json:"pt_note"`    // PT_NOTE entries
	PTLoad    int    `json:"pt_load"`    // PT_LOAD entries
	PhdrFree  uint64 `json:"phdr_free"`  // bytes between the end of the table and the next used byte
	Shnum     int    `json:"shnum"`      // section headers (0: none)
	ShoffNext bool   `json:"shoff_next"` // the section header table follows the program headers (Go's linker)
	LoadRoom  uint64 `json:"load_room"`  // most unused bytes at the end of a suitable PT_LOAD (see loadRoom)
	Size      int64  `json:"size"`       // file size
}

// factsOf reads the facts of an ELF file. Files debug/elf cannot open give
// an error.
func factsOf(name string) (*Facts, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var phoff, shoff uint64
	var phentsize, phnum uint64
	bo := f.ByteOrder
	if f.Class == elf.ELFCLASS64 {
		phoff, shoff = bo.Uint64(data[0x20:]), bo.Uint64(data[0x28:])
		phentsize, phnum = uint64(bo.Uint16(data[0x36:])), uint64(bo.Uint16(data[0x38:]))
	} else {
		phoff, shoff = uint64(bo.Uint32(data[0x1c:])), uint64(bo.Uint32(data[0x20:]))
		phentsize, phnum = uint64(bo.Uint16(data[0x2a:])), uint64(bo.Uint16(data[0x2c:]))
	}
	fa := &Facts{Type: f.Type.String(), Phnum: len(f.Progs), Shnum: len(f.Sections), Size: int64(len(data))}
	end := phoff + phentsize*phnum
	next := uint64(len(data))
	if shoff >= end && shoff != 0 && shoff < next {
		next = shoff
	}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_PHDR:
			fa.PTPhdr = true
		case elf.PT_INTERP:
			fa.PTInterp = true
		case elf.PT_NULL:
			fa.PTNull++
		case elf.PT_NOTE:
			fa.PTNote++
		case elf.PT_LOAD:
			fa.PTLoad++
		}
		if p.Filesz > 0 && p.Off >= end && p.Off < next {
			next = p.Off
		}
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Type != elf.SHT_NULL && s.Size > 0 && s.Offset >= end && s.Offset < next {
			next = s.Offset
		}
	}
	if phnum == 0 {
		end = next
	}
	fa.PhdrFree = next - end
	fa.LoadRoom = loadRoom(f, shoff, uint64(len(data)))
	fa.ShoffNext = shoff != 0 && shoff == end
	return fa, nil
}

// Note is the restriction a fixture already carries.
type Note struct {
	Deny       []int `json:"deny"`
	DenyBeyond bool  `json:"deny_beyond"`
}

// Fixture is one entry of fixtures.json.
type Fixture struct {
	File      string   `json:"file"`
	ABI       string   `json:"abi"`
	Machine   string   `json:"machine"`
	Class     string   `json:"class"`
	Endian    string   `json:"endian"`
	Kind      string   `json:"kind"`
	Linker    string   `json:"linker"`
	Run       []string `json:"run"`
	Why       string   `json:"why,omitempty"`
	Needs     string   `json:"needs,omitempty"`
	Beside    []string `json:"beside,omitempty"`
	Args      []string `json:"args"`
	Stdout    string   `json:"stdout"`
	Exit      int      `json:"exit"`
	Dynamic   bool     `json:"dynamic"`
	Trace     []string `json:"trace,omitempty"`
	SelfNotes []string `json:"self_notes"`
	Expect    string   `json:"expect"`
	Note      *Note    `json:"note,omitempty"`
	Facts     *Facts   `json:"facts"`
	Notes     string   `json:"notes"`
}

var (
	native   = []string{}
	embedLib = []string{"libembed.so"}
	qemuA64  = []string{"qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"}
	qemuARM  = []string{"qemu-arm", "-L", "/usr/arm-linux-gnueabihf"}
	qemuS39  = []string{"qemu-s390x", "-L", "/usr/s390x-linux-gnu"}
	qemuPPC  = []string{"qemu-ppc", "-L", "/usr/powerpc-linux-gnu"}
)

const (
	noteI386 = "Runs only where the kernel execs i386 ELF files (needs i386-exec: some hosts of this kind refuse them with ENOEXEC, IA-32 emulation off at run time); glibc then makes its i386 syscalls through the vDSO"
	noteX32  = "Runs only where the kernel has the x32 ABI (needs x32: CONFIG_X86_X32_ABI, off on the hosts seen so far, where execve fails with ENOEXEC) and libc6-x32 is installed"
)

// fixtures lists the corpus. Stdout and exit follow from the fixture
// convention (see src/hello.c) and are checked by check.sh.
var fixtures = []Fixture{
	{File: "x86_64-pie", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "gcc default: PIE, ld.bfd 2.40, glibc 2.36"},
	{File: "x86_64-exec", ABI: "x86_64", Kind: "exec", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "-no-pie: ET_EXEC"},
	{File: "x86_64-static", ABI: "x86_64", Kind: "static", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "-static glibc: ET_EXEC, no PT_INTERP, no PT_PHDR"},
	{File: "x86_64-static-pie", ABI: "x86_64", Kind: "static-pie", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "-static-pie glibc: ET_DYN without PT_INTERP, relocates itself"},
	{File: "x86_64-pie-lld", ABI: "x86_64", Kind: "pie", Linker: "ld.lld", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "-fuse-ld=lld (LLD 14): different segment layout, R-only first PT_LOAD"},
	{File: "x86_64-exec-lld", ABI: "x86_64", Kind: "exec", Linker: "ld.lld", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "-no-pie -fuse-ld=lld"},
	{File: "x86_64-pie-gold", ABI: "x86_64", Kind: "pie", Linker: "ld.gold", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "-fuse-ld=gold (gold 1.16)"},
	{File: "x86_64-musl-static", ABI: "x86_64", Kind: "static", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "musl-gcc -static (musl 1.2.3): no PT_NOTE, no PT_PHDR"},
	{File: "x86_64-stripped", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "strip of x86_64-pie: no .symtab; prints \"hello from x86_64-pie\""},
	{File: "x86_64-nosections", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "llvm-objcopy --strip-sections of x86_64-pie: no section headers at all (e_shoff 0, e_shnum 0), so the note can only be found by PT_NOTE; prints \"hello from x86_64-pie\""},
	{File: "x86_64-phdr-room", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "GNU ld's default -pie script with SIZEOF_HEADERS + 256: 256 zero bytes after the program header table, inside the first PT_LOAD (room for a new entry without moving the table)"},
	{File: "x86_64-full-pages", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "GNU ld's default -pie script with each of the three read-only/executable PT_LOADs padded to the end of its last page (.pad.1-3); the RW one has .bss: no PT_LOAD has unused bytes to grow into, so a stamper must append a new PT_LOAD"},
	{File: "libhello.so", ABI: "x86_64", Kind: "shared", Linker: "ld.bfd", Expect: "stampable",
		Why:   "shared object without an entry point; run x86_64-uselib, which loads it from its own directory",
		Notes: "-shared -fPIC, soname libhello.so; no PT_INTERP, no PT_PHDR"},
	{File: "x86_64-uselib", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Stdout: "hello from x86_64-uselib\nhello from libhello.so\n",
		Notes:  "linked against libhello.so with DT_RUNPATH $ORIGIN: copy libhello.so beside it; stamping a copy of libhello.so there and running this checks the stamped library still loads"},
	{File: "x86_64-ptnull", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "x86_64-pie with its first PT_NOTE (the one duplicating PT_GNU_PROPERTY) zeroed into PT_NULL by tools/fixtool ptnull: a free program header slot; prints \"hello from x86_64-pie\""},
	{File: "x86_64-appended", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "appended-data",
		Notes: "x86_64-pie followed by 28 bytes (\"SYSRESTRICT-FIXTURE-PAYLOAD\\n\") past the end of the section header table: a stamper must refuse rather than lose them; prints \"hello from x86_64-pie\""},
	{File: "x86_64-hello.o", ABI: "x86_64", Kind: "relocatable", Linker: "none", Expect: "relocatable",
		Why: "ET_REL object file", Notes: "gcc -c of src/hello.c: no program headers"},
	{File: "x86_64-note-valid", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Note:  &Note{Deny: []int{59, 101}},
		Notes: "src/note.S VARIANT=1: a .note.sysrestrict section linked in at build time (bitmap: execve, ptrace); GNU ld puts it in the same PT_NOTE as .note.gnu.build-id and .note.ABI-tag, after them"},
	{File: "x86_64-note-valid-flags", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Note:  &Note{Deny: []int{59, 101}, DenyBeyond: true},
		Notes: "src/note.S VARIANT=2: as x86_64-note-valid plus a flags note with DENY_BEYOND"},
	{File: "x86_64-note-bad-descsz", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "bad-note",
		Notes: "src/note.S VARIANT=3: SysRestrict type 1 with descsz 60"},
	{File: "x86_64-note-bad-type", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "bad-note",
		Notes: "src/note.S VARIANT=4: SysRestrict note of reserved type 3 (a reader must refuse it, not skip it)"},
	{File: "x86_64-note-bad-flags", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "bad-note",
		Notes: "src/note.S VARIANT=5: valid bitmap plus a flags note with unknown bit 1 set"},
	{File: "x86_64-note-bad-namesz", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "bad-note",
		Notes: "src/note.S VARIANT=6: SysRestrict note with namesz 200, running past the end of its section and PT_NOTE"},
	{File: "embed-pie", ABI: "x86_64", Kind: "pie", Linker: "ld.bfd", Run: native, Dynamic: true, Beside: embedLib, Expect: "stampable",
		Notes: "src/embed.c (hello.c plus the modes of the --embed tests), gcc default PIE, -pthread, linked against libembed.so (DT_RUNPATH $ORIGIN)"},
	{File: "embed-exec", ABI: "x86_64", Kind: "exec", Linker: "ld.bfd", Run: native, Dynamic: true, Beside: embedLib, Expect: "stampable",
		Notes: "src/embed.c, -no-pie, linked against libembed.so"},
	{File: "embed-static", ABI: "x86_64", Kind: "static", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "src/embed.c, -static glibc"},
	{File: "embed-static-pie", ABI: "x86_64", Kind: "static-pie", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "src/embed.c, -static-pie glibc"},
	{File: "embed-musl-static", ABI: "x86_64", Kind: "static", Linker: "ld.bfd", Run: native, Expect: "stampable",
		Notes: "src/embed.c, musl-gcc -static (musl 1.2.3)"},
	{File: "embed-pie-gold", ABI: "x86_64", Kind: "pie", Linker: "ld.gold", Run: native, Dynamic: true, Beside: embedLib, Expect: "stampable",
		Notes: "src/embed.c, -fuse-ld=gold, linked against libembed.so"},
	{File: "embed-pie-lld", ABI: "x86_64", Kind: "pie", Linker: "ld.lld", Run: native, Dynamic: true, Beside: embedLib, Expect: "stampable",
		Notes: "src/embed.c, -fuse-ld=lld (LLD 14), linked against libembed.so"},
	{File: "libembed.so", ABI: "x86_64", Kind: "shared", Linker: "ld.bfd", Expect: "stampable",
		Why:   "shared object without an entry point; the dynamic embed-* fixtures load it from their own directory",
		Notes: "src/embedlib.c: a destructor that reports at exit once asked (embed atexit), run by ld.so's rtld_fini; soname libembed.so"},
	{File: "go-embed", ABI: "x86_64", Kind: "go", Linker: "go", Run: native, Expect: "stampable",
		Notes: "src/goembed (gohello plus the modes of the --embed tests), CGO_ENABLED=0: Go's internal linker, static"},
	{File: "go-embed-cgo", ABI: "x86_64", Kind: "go", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "src/goembed, CGO_ENABLED=1 -ldflags=-linkmode=external: linked by gcc/ld.bfd, dynamic against glibc"},
	{File: "go-internal", ABI: "x86_64", Kind: "go", Linker: "go", Run: native, Expect: "stampable",
		Notes: "CGO_ENABLED=0 go build: Go's internal linker, static, section header table right after the program headers"},
	{File: "go-external", ABI: "x86_64", Kind: "go", Linker: "ld.bfd", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "CGO_ENABLED=1 go build -ldflags=-linkmode=external: linked by gcc/ld.bfd, dynamic against glibc"},
	{File: "go-pie", ABI: "x86_64", Kind: "go-pie", Linker: "go", Run: native, Dynamic: true, Expect: "stampable",
		Notes: "CGO_ENABLED=0 go build -buildmode=pie: Go's internal linker, ET_DYN with PT_INTERP"},
	{File: "go-sw", ABI: "x86_64", Kind: "go", Linker: "go", Run: native, Expect: "stampable",
		Notes: "CGO_ENABLED=0 go build -ldflags='-s -w': no symbol table, no DWARF"},
	{File: "i386-pie", ABI: "i386", Kind: "pie", Linker: "ld.bfd", Run: native, Needs: "i386-exec", Dynamic: true, Expect: "stampable",
		Notes: "gcc -m32: ELFCLASS32 EM_386 ET_DYN. " + noteI386},
	{File: "i386-exec", ABI: "i386", Kind: "exec", Linker: "ld.bfd", Run: native, Needs: "i386-exec", Dynamic: true, Expect: "stampable",
		Notes: "gcc -m32 -no-pie: ELFCLASS32 EM_386 ET_EXEC. " + noteI386},
	{File: "x32-pie", ABI: "x32", Kind: "pie", Linker: "ld.bfd", Run: native, Needs: "x32", Dynamic: true, Expect: "stampable",
		Notes: "gcc -mx32: ELFCLASS32 EM_X86_64. " + noteX32},
	{File: "aarch64-pie", ABI: "aarch64", Kind: "pie", Linker: "ld.bfd", Run: qemuA64, Dynamic: true, Expect: "stampable",
		Notes: "aarch64-linux-gnu-gcc; page size 64 KiB assumed by the stamper"},
	{File: "aarch64-static", ABI: "aarch64", Kind: "static", Linker: "ld.bfd", Run: []string{"qemu-aarch64"}, Expect: "stampable",
		Notes: "aarch64-linux-gnu-gcc -static"},
	{File: "arm-pie", ABI: "arm", Kind: "pie", Linker: "ld.bfd", Run: qemuARM, Dynamic: true, Expect: "stampable",
		Notes: "arm-linux-gnueabihf-gcc (EABI5, hard float, Thumb-2): ELFCLASS32 EM_ARM, has PT_ARM_EXIDX"},
	{File: "s390x-pie", ABI: "unknown", Kind: "pie", Linker: "ld.bfd", Run: qemuS39, Dynamic: true, Expect: "stampable",
		Notes: "s390x-linux-gnu-gcc: big-endian ELFCLASS64 EM_S390; outside SPEC's ABI table, so stamped by number only and refused by the loader"},
	{File: "ppc-pie", ABI: "unknown", Kind: "pie", Linker: "ld.bfd", Run: qemuPPC, Dynamic: true, Expect: "stampable",
		Notes: "powerpc-linux-gnu-gcc: big-endian ELFCLASS32 EM_PPC (the ELF32 big-endian paths); outside SPEC's ABI table, stamped by number only"},
	{File: "not-elf-script", ABI: "unknown", Kind: "script", Linker: "none", Run: native, Expect: "not-elf",
		Notes: "a #!/bin/sh script following the fixture convention: not ELF, but executable"},
	{File: "bad-empty", ABI: "unknown", Kind: "malformed", Linker: "none", Why: "empty file", Expect: "not-elf",
		Notes: "0 bytes"},
	{File: "bad-truncated", ABI: "x86_64", Kind: "malformed", Linker: "none", Why: "truncated", Expect: "truncated",
		Notes: "the ELF header of x86_64-pie and half of its program header table, nothing more"},
	{File: "bad-phdr-past-eof", ABI: "x86_64", Kind: "malformed", Linker: "none", Why: "program header table past EOF", Expect: "phdrs-out-of-range",
		Notes: "x86_64-pie with e_phoff = file size - e_phentsize: the table starts in the file and runs past its end"},
	{File: "bad-core", ABI: "x86_64", Kind: "core", Linker: "none", Why: "ET_CORE", Expect: "core",
		Notes: "x86_64-pie with e_type ET_CORE"},
}

// derived fixtures print the line of the file they were made from.
var derivedFrom = map[string]string{
	"x86_64-stripped":   "x86_64-pie",
	"x86_64-nosections": "x86_64-pie",
	"x86_64-ptnull":     "x86_64-pie",
	"x86_64-appended":   "x86_64-pie",
}

func manifest(w io.Writer) error {
	out := make([]Fixture, 0, len(fixtures))
	for _, fx := range fixtures {
		if _, err := os.Stat(fx.File); err != nil {
			return err
		}
		fx.Args = []string{}
		if fx.Run != nil {
			fx.Args = []string{"exit", "7"}
			fx.Exit = 7
			if fx.Dynamic {
				fx.Trace = traceArgv(fx.Run)
			}
			if hasNotesMode(fx) {
				lines, err := selfNotes(fx.File)
				if err != nil {
					return err
				}
				fx.SelfNotes = lines
			}
			if fx.Stdout == "" {
				name := fx.File
				if d, ok := derivedFrom[name]; ok {
					name = d
				}
				fx.Stdout = "hello from " + name + "\n"
			}
		}
		fx.Machine, fx.Class, fx.Endian = "none", "none", "none"
		if h, err := header(fx.File); err == nil {
			fx.Machine, fx.Class, fx.Endian = h.machine.String(), h.class.String(), h.endian
		}
		if fa, err := factsOf(fx.File); err == nil {
			fx.Facts = fa
		}
		out = append(out, fx)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

type ident struct {
	class   elf.Class
	machine elf.Machine
	endian  string
}

// header reads e_ident and e_machine alone, so that files debug/elf refuses
// still get them.
func header(name string) (ident, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return ident{}, err
	}
	if len(b) < 20 || !bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		return ident{}, errors.New("not ELF")
	}
	id := ident{class: elf.Class(b[elf.EI_CLASS])}
	switch elf.Data(b[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		id.endian = "little"
		id.machine = elf.Machine(binary.LittleEndian.Uint16(b[18:]))
	case elf.ELFDATA2MSB:
		id.endian = "big"
		id.machine = elf.Machine(binary.BigEndian.Uint16(b[18:]))
	default:
		return ident{}, errors.New("bad EI_DATA")
	}
	return id, nil
}

// traceArgv is the argv prefix that runs a dynamic executable with
// LD_TRACE_LOADED_OBJECTS=1 set for its own ld.so. Under qemu-user the
// variable goes through -E: set in qemu's environment it would make the
// host's ld.so trace qemu itself.
func traceArgv(run []string) []string {
	if len(run) == 0 {
		return []string{"env", "LD_TRACE_LOADED_OBJECTS=1"}
	}
	return append(append([]string{}, run...), "-E", "LD_TRACE_LOADED_OBJECTS=1")
}

// hasNotesMode reports whether the fixture runs src/hello.c, which prints
// its own notes when given the argument "notes".
func hasNotesMode(fx Fixture) bool {
	switch fx.Kind {
	case "pie", "exec", "static", "static-pie":
		return fx.Run != nil
	}
	return false
}

// selfNotes gives the lines "hello notes" prints: one per note in each
// PT_NOTE, in program header order, walked as src/hello.c walks them.
func selfNotes(name string) ([]string, error) {
	f, err := elf.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines := []string{}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for off := uint64(0); off+12 <= uint64(len(b)); {
			namesz := uint64(f.ByteOrder.Uint32(b[off:]))
			descsz := uint64(f.ByteOrder.Uint32(b[off+4:]))
			typ := f.ByteOrder.Uint32(b[off+8:])
			owner := b[off+12 : min(off+12+max(namesz, 1)-1, uint64(len(b)))]
			if i := bytes.IndexByte(owner, 0); i >= 0 {
				owner = owner[:i]
			}
			lines = append(lines, fmt.Sprintf("note %s %d %d", owner, typ, descsz))
			off += 12 + (namesz+3)&^3 + (descsz+3)&^3
		}
	}
	return lines, nil
}

// loadRoom gives the most unused bytes at the end of a PT_LOAD that is
// readable, has no .bss (p_filesz == p_memsz) and the same p_vaddr -
// p_offset as the first PT_LOAD: from the end of its file image to the end
// of its last 4 KiB page, stopping early at the next byte of the file that
// anything uses and at the next segment mapped in that page.
func loadRoom(f *elf.File, shoff, size uint64) uint64 {
	const page = 4096
	var loads []*elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			loads = append(loads, p)
		}
	}
	if len(loads) == 0 {
		return 0
	}
	delta := loads[0].Vaddr - loads[0].Off
	var best uint64
	for _, p := range loads {
		if p.Flags&elf.PF_R == 0 || p.Filesz != p.Memsz || p.Vaddr-p.Off != delta {
			continue
		}
		end := p.Off + p.Filesz
		limit := (end + page - 1) &^ (page - 1)
		vend := p.Vaddr + p.Memsz
		for _, q := range f.Progs {
			if q.Filesz > 0 && q.Off >= end && q.Off < limit {
				limit = q.Off
			}
			if q.Type == elf.PT_LOAD && q != p && q.Vaddr >= vend && q.Vaddr-vend < limit-end {
				limit = end + (q.Vaddr - vend)
			}
		}
		for _, sec := range f.Sections {
			if sec.Type != elf.SHT_NOBITS && sec.Type != elf.SHT_NULL && sec.Size > 0 && sec.Offset >= end && sec.Offset < limit {
				limit = sec.Offset
			}
		}
		if shoff >= end && shoff < limit {
			limit = shoff
		}
		limit = min(limit, size)
		if limit > end && limit-end > best {
			best = limit - end
		}
	}
	return best
}
