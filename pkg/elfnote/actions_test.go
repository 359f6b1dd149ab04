//go:build linux

package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

var (
	kill   = filter.Kill()
	log_   = filter.Log()
	enosys = filter.Errno(38)
	eperm  = filter.Errno(1)
)

func TestEncodeActions(t *testing.T) {
	set := bitmap.NewSet(bitmap.X86_64, 56, 59, 435)
	a := Actions{Default: kill, Overrides: map[int]filter.Action{435: enosys, 56: log_}}
	got := encodeActions(binary.LittleEndian, a)
	want := []byte{
		1, 0, 0, 0, // version
		0, 0, 0, 0x80, // KILL_PROCESS
		2, 0, 0, 0, // 2 overrides
		56, 0, 0, 0, 0, 0, 0xfc, 0x7f, // clone: LOG
		0xb3, 1, 0, 0, 38, 0, 5, 0, // clone3: ERRNO(38)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeActions = % x\nwant            % x", got, want)
	}
	be := encodeActions(binary.BigEndian, a)
	if d, err := decodeActions(be, 0, binary.BigEndian, set); err != nil || !d.Equal(a) {
		t.Errorf("big-endian round trip: %+v, %v", d, err)
	}
	if encodeActions(binary.LittleEndian, Actions{}) != nil || encodeActions(binary.LittleEndian, Actions{Overrides: map[int]filter.Action{59: kill}}) != nil {
		t.Error("all-kill actions encode to a descriptor; want none")
	}
	if d := encodeActions(binary.LittleEndian, Actions{Default: eperm}); len(d) != 12 {
		t.Errorf("a default alone: %d bytes, want 12", len(d))
	}
}

// TestDecodeActionsRefuses: every rule of the format (DESIGN-notes,
// docs/note-format.md) is refused with ErrBadAction at the field's offset.
func TestDecodeActionsRefuses(t *testing.T) {
	bo := binary.LittleEndian
	set := bitmap.NewSet(bitmap.X86_64, 56, 59, 435)
	good := encodeActions(bo, Actions{Default: kill, Overrides: map[int]filter.Action{56: log_, 435: enosys}})
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put := func(off int, v uint32) []byte {
		return edit(func(b []byte) []byte { bo.PutUint32(b[off:], v); return b })
	}
	const base = 0x1000
	for _, tt := range []struct {
		name string
		desc []byte
		off  int64
		msg  string
	}{
		{"empty", nil, 0, "0 bytes, shorter than its 12-byte header"},
		{"short header", good[:8], 0, "shorter than its 12-byte header"},
		{"version 0", put(0, 0), 0, "version 0 (this sysrestrict knows 1)"},
		{"version 2", put(0, 2), 0, "a newer sysrestrict stamped this file"},
		{"default ALLOW", put(4, filter.SECCOMP_RET_ALLOW), 4, "default action 0x7fff0000 is not kill"},
		{"default TRAP", put(4, filter.SECCOMP_RET_TRAP), 4, "default action 0x30000"},
		{"default TRACE", put(4, filter.SECCOMP_RET_TRACE), 4, "default action 0x7ff00000"},
		{"default KILL_THREAD", put(4, filter.SECCOMP_RET_KILL_THREAD), 4, "default action 0x0 "},
		{"default errno 0", put(4, filter.SECCOMP_RET_ERRNO), 4, "default action 0x50000"},
		{"default errno 4096", put(4, filter.SECCOMP_RET_ERRNO|4096), 4, "default action 0x51000"},
		{"513 overrides", put(8, 513), 8, "513 overrides, more than the 512"},
		{"count too large for the bytes", put(8, 3), 8, "28 bytes for 3 overrides, want 36"},
		{"count too small for the bytes", put(8, 1), 8, "28 bytes for 1 overrides, want 20"},
		{"trailing bytes", append(bytes.Clone(good), 0, 0, 0, 0), 8, "32 bytes for 2 overrides, want 28"},
		{"number 512", put(20, 512), 20, "syscall number 512, not below 512"},
		{"number 0xffffffff", put(20, 0xffffffff), 20, "not below 512"},
		{"descending", put(12, 435), 20, "syscall number 435 after 435: not in strictly ascending order"},
		{"not restricted", put(12, 57), 12, "fork (57) is not restricted by the bitmap"},
		{"override TRAP", put(16, filter.SECCOMP_RET_TRAP), 16, "override 0 (clone): action 0x30000"},
		{"override ALLOW", put(24, filter.SECCOMP_RET_ALLOW), 24, "override 1 (clone3): action 0x7fff0000"},
		{"override repeats the default", put(16, filter.SECCOMP_RET_KILL_PROCESS), 16, "repeats the default action kill (not canonical)"},
		{"only kill", []byte{1, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0}, 4, "not canonical"},
	} {
		_, err := decodeActions(tt.desc, base, bo, set)
		wantFormatError(t, tt.name, err, base+tt.off, ErrBadAction, tt.msg)
		if !errors.Is(err, ErrBadNote) {
			t.Errorf("%s: %v does not match ErrBadNote", tt.name, err)
		}
	}
	if a, err := decodeActions(good, base, bo, set); err != nil || !a.Equal(Actions{Overrides: map[int]filter.Action{56: log_, 435: enosys}}) {
		t.Errorf("decodeActions(good) = %+v, %v", a, err)
	}
}

// withActions returns x86_64-pie stamped with set and a, and the note's
// location.
func withActions(t *testing.T, set bitmap.Set, a Actions) ([]byte, Location) {
	t.Helper()
	b := mustRead(t, filepath.Join(fixtureDir, "x86_64-pie"))
	p, err := PlanStampWith(bytes.NewReader(b), set, Options{Actions: a})
	if err != nil {
		t.Fatal(err)
	}
	out := p.Apply(b)
	f, err := Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return out, f.Note
}

// TestHostileActionNote: a stamped file whose action note was tampered
// with is refused by Read and by the loader's ReadRestrictions, with the
// file's offset of the field; a second action note, or one of a wrong
// size, too. Nothing of a refused note is taken for the file's policy.
func TestHostileActionNote(t *testing.T) {
	set := bitmap.NewSet(bitmap.X86_64, 56, 59, 435)
	good, loc := withActions(t, set, Actions{Default: eperm, Overrides: map[int]filter.Action{435: enosys}})
	if loc.ActionOff == 0 || loc.ActionOff != loc.FlagsOff+4+24 || loc.UndoOff != loc.ActionOff+20+24 {
		t.Fatalf("action note at %#x (flags %#x, undo %#x): want it right after the flags note, the undo note right after it", loc.ActionOff, loc.FlagsOff, loc.UndoOff)
	}
	at := loc.ActionOff
	bo := binary.LittleEndian
	for _, tt := range []struct {
		name string
		edit func(b []byte)
		off  int64
		err  error
		msg  string
	}{
		{"version", func(b []byte) { bo.PutUint32(b[at:], 7) }, at, ErrBadAction, "version 7"},
		{"default", func(b []byte) { bo.PutUint32(b[at+4:], filter.SECCOMP_RET_ALLOW) }, at + 4, ErrBadAction, "default action"},
		{"count", func(b []byte) { bo.PutUint32(b[at+8:], 0) }, at + 8, ErrBadAction, "20 bytes for 0 overrides"},
		{"override of an allowed syscall", func(b []byte) { bo.PutUint32(b[at+12:], 60) }, at + 12, ErrBadAction, "exit (60) is not restricted"},
		{"override lifted from the bitmap", func(b []byte) { b[loc.BitmapOff+435/8] &^= 1 << (435 % 8) }, at + 12, ErrBadAction, "clone3 (435) is not restricted"},
		{"override is the default", func(b []byte) { bo.PutUint32(b[at+16:], filter.SECCOMP_RET_ERRNO|1) }, at + 16, ErrBadAction, "repeats the default"},
		// The note's type word of the undo note turned into a second
		// action note.
		{"two action notes", func(b []byte) { bo.PutUint32(b[loc.UndoOff-16:], NT_SYSRESTRICT_ACTION) }, loc.UndoOff - 24, ErrBadNote, "two NT_SYSRESTRICT_ACTION notes"},
		// descsz 20 → 16: the descriptor then ends short, and the undo
		// note's header is misread: refused, though not as a note
		// (a note header that overruns its segment).
		{"descsz", func(b []byte) { bo.PutUint32(b[at-20:], 16) }, at, nil, ""},
	} {
		b := bytes.Clone(good)
		tt.edit(b)
		for name, read := range map[string]func(r *bytes.Reader) (*File, error){
			"Read":             func(r *bytes.Reader) (*File, error) { return Read(r) },
			"ReadRestrictions": func(r *bytes.Reader) (*File, error) { return ReadRestrictions(r) },
		} {
			f, err := read(bytes.NewReader(b))
			if err == nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("%s: %s = %v, want %v", tt.name, name, err, tt.err)
				continue
			}
			if tt.msg != "" {
				wantFormatError(t, tt.name+": "+name, err, tt.off, tt.err, tt.msg)
			}
			if f != nil && (f.Stamped || !f.Actions.Equal(Actions{})) {
				t.Errorf("%s: %s returned a policy with the error: %+v", tt.name, name, f)
			}
		}
	}
}

// TestActionsRoundTrip stamps every stampable fixture with actions, reads
// them back, grows and shrinks the action note by re-stamping (a new
// layout each time: the note is removed by its undo record and added
// again), and removes the note: the original comes back byte for byte,
// and a re-stamp back to all-kill gives exactly the bytes of a plain
// stamp.
func TestActionsRoundTrip(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		if fx.Expect != "stampable" || fx.Note != nil {
			continue
		}
		t.Run(fx.File, func(t *testing.T) {
			t.Parallel()
			orig := mustRead(t, filepath.Join(fixtureDir, fx.File))
			f0, err := Read(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			abi := f0.ABI
			set := bitmap.NewSet(abi, 3, 5, 7, 11, 200, 201, 202, 400)
			small := Actions{Default: kill, Overrides: map[int]filter.Action{5: enosys}}
			large := Actions{Default: log_, Overrides: map[int]filter.Action{3: kill, 5: enosys, 7: eperm, 200: enosys, 201: enosys, 400: kill}}
			stamp := func(what string, b []byte, a Actions) []byte {
				t.Helper()
				p, err := PlanStampWith(bytes.NewReader(b), set, Options{Actions: a})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				out := p.Apply(bytes.Clone(b))
				f, err := Read(bytes.NewReader(out))
				if err != nil {
					t.Fatalf("%s: Read: %v (strategy %v)", what, err, p.Strategy)
				}
				if !f.Set.Equal(set.WithABI(abi)) || !f.Actions.Equal(a) || !p.AfterActions.Equal(a) {
					t.Fatalf("%s: reads %v %s, want %v %s", what, f.Set, f.Actions.Describe(abi), set, a.Describe(abi))
				}
				if (f.Note.ActionOff != 0) != !a.Kill() {
					t.Fatalf("%s: action note at %#x for %s", what, f.Note.ActionOff, a.Describe(abi))
				}
				checkOneRecord(t, what, out, orig)
				return out
			}
			plain := stamp("plain", orig, Actions{})
			s1 := stamp("small", orig, small)
			s2 := stamp("grown", s1, large)
			s3 := stamp("shrunk", s2, small)
			s4 := stamp("back to kill", s3, Actions{})
			if !bytes.Equal(s4, plain) {
				t.Errorf("re-stamped back to all-kill: %d bytes differ from a plain stamp's", diffBytes(s4, plain))
			}
			if !bytes.Equal(s3, s1) {
				t.Errorf("shrunk back: %d bytes differ from the first stamp with the same actions", diffBytes(s3, s1))
			}
			for name, b := range map[string][]byte{"small": s1, "grown": s2, "shrunk": s3} {
				rm, err := PlanRemove(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s: PlanRemove: %v", name, err)
				}
				if back := rm.Apply(bytes.Clone(b)); !rm.Exact || !bytes.Equal(back, orig) {
					t.Errorf("%s: removal exact=%v, %d bytes differ from the original", name, rm.Exact, diffBytes(back, orig))
				}
			}
			// Same number of overrides: rewritten in place, not as
			// adding bits only.
			same := Actions{Default: kill, Overrides: map[int]filter.Action{7: log_}}
			p, err := PlanStampWith(bytes.NewReader(s1), set, Options{Actions: same})
			if err != nil {
				t.Fatal(err)
			}
			if p.Strategy != StrategyRewrite || p.AddsOnly {
				t.Errorf("same-size action note: strategy %v, adds only %v; want rewrite, not adds only", p.Strategy, p.AddsOnly)
			}
			if f, err := Read(bytes.NewReader(p.Apply(bytes.Clone(s1)))); err != nil || !f.Actions.Equal(same) {
				t.Errorf("same-size action note rewritten: %+v, %v", f, err)
			}
		})
	}
}

// TestLinkedInNoteActions: a note linked in at build time is rewritten in
// place, so it takes actions only when it has an action note of the size
// they need; otherwise the stamp says what the build must give it.
func TestLinkedInNoteActions(t *testing.T) {
	b := mustRead(t, filepath.Join(fixtureDir, "x86_64-note-valid"))
	f, err := Read(bytes.NewReader(b))
	if err != nil || !f.Stamped {
		t.Fatalf("x86_64-note-valid: %+v, %v", f, err)
	}
	_, err = PlanStampWith(bytes.NewReader(b), f.Set, Options{Actions: Actions{Default: eperm}})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "linked in at build time") {
		t.Errorf("actions on a linked-in note without an action note: %v, want ErrUnsupported naming the build", err)
	}
	if p, err := PlanStampWith(bytes.NewReader(b), f.Set.Union(bitmap.NewSet(bitmap.X86_64, 62)), Options{}); err != nil || p.Strategy != StrategyRewrite {
		t.Errorf("a plain re-stamp of a linked-in note: %v, %v; want a rewrite", p, err)
	}
}

func diffBytes(a, b []byte) int {
	n := max(len(a), len(b)) - min(len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestPlanStampWithRefuses(t *testing.T) {
	b := mustRead(t, filepath.Join(fixtureDir, "x86_64-pie"))
	set := bitmap.NewSet(bitmap.X86_64, 59)
	for _, tt := range []struct {
		name string
		a    Actions
		want error
	}{
		{"override of an allowed syscall", Actions{Overrides: map[int]filter.Action{60: eperm}}, filter.ErrOverride},
		{"trap default", Actions{Default: filter.Trap()}, filter.ErrAction},
		{"trace override", Actions{Overrides: map[int]filter.Action{59: filter.Trace(1)}}, filter.ErrAction},
		{"errno 0", Actions{Default: filter.Errno(0)}, filter.ErrAction},
	} {
		if _, err := PlanStampWith(bytes.NewReader(b), set, Options{Actions: tt.a}); !errors.Is(err, tt.want) {
			t.Errorf("%s: PlanStampWith = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestAccumulate(t *testing.T) {
	abi := bitmap.X86_64
	ov := func(kv ...any) map[int]filter.Action {
		m := map[int]filter.Action{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(int)] = kv[i+1].(filter.Action)
		}
		return m
	}
	for _, tt := range []struct {
		name     string
		had      bitmap.Set
		old      Actions
		ask      bitmap.Set
		a        Actions
		want     Actions
		wantDesc string
	}{
		{"kill stays kill", bitmap.NewSet(abi, 59), Actions{}, bitmap.NewSet(abi, 101), Actions{}, Actions{}, "kill"},
		{"a new override", bitmap.NewSet(abi, 59), Actions{}, bitmap.NewSet(abi, 435), Actions{Overrides: ov(435, enosys)},
			Actions{Overrides: ov(435, enosys)}, "kill; clone3: errno=ENOSYS"},
		{"a looser default stays kill, the new syscalls get it", bitmap.NewSet(abi, 59), Actions{}, bitmap.NewSet(abi, 101), Actions{Default: log_},
			Actions{Overrides: ov(101, log_)}, "kill; ptrace: log"},
		{"kill wins over errno on a syscall in both", bitmap.NewSet(abi, 59), Actions{}, bitmap.NewSet(abi, 59), Actions{Default: eperm},
			Actions{}, "kill"},
		{"errno wins over log", bitmap.NewSet(abi, 59), Actions{Default: log_}, bitmap.NewSet(abi, 59), Actions{Default: eperm},
			Actions{Default: eperm}, "errno=EPERM"},
		{"of two errnos the new one", bitmap.NewSet(abi, 59, 101), Actions{Default: eperm}, bitmap.NewSet(abi, 59), Actions{Default: enosys},
			Actions{Default: enosys, Overrides: ov(101, eperm)}, "errno=ENOSYS; ptrace: errno=EPERM"},
		{"a stricter default tightens what the note had", bitmap.NewSet(abi, 59, 435), Actions{Default: log_, Overrides: ov(435, enosys)}, bitmap.NewSet(abi, 101), Actions{},
			Actions{Overrides: ov(59, log_, 435, enosys)}, "kill; execve: log, clone3: errno=ENOSYS"},
		{"an override is not loosened", bitmap.NewSet(abi, 435), Actions{}, bitmap.NewSet(abi, 435), Actions{Overrides: ov(435, enosys)},
			Actions{}, "kill"},
		{"an errno override tightened to kill", bitmap.NewSet(abi, 435), Actions{Overrides: ov(435, enosys)}, bitmap.NewSet(abi, 435), Actions{},
			Actions{}, "kill"},
	} {
		got, err := accumulate(tt.had, tt.old, tt.ask, tt.a)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !got.Equal(tt.want) || got.Describe(abi) != tt.wantDesc {
			t.Errorf("%s: accumulate = %s, want %s", tt.name, got.Describe(abi), tt.wantDesc)
		}
		for nr, o := range got.Overrides {
			if o == got.Default || !tt.had.Union(tt.ask).Has(nr) {
				t.Errorf("%s: not canonical: %s", tt.name, got.Describe(abi))
			}
		}
	}
	if _, err := accumulate(bitmap.NewSet(abi, 59), Actions{}, bitmap.NewSet(abi, 101), Actions{Overrides: ov(59, eperm)}); !errors.Is(err, filter.ErrOverride) {
		t.Errorf("an override of a syscall the stamp does not restrict: %v, want ErrOverride", err)
	}
}

// TestStampAccumulatesActions: Stamp without Replace takes the stricter
// action per syscall under the file's lock, and only Replace loosens.
func TestStampAccumulatesActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog")
	copyFile(t, filepath.Join(fixtureDir, "x86_64-pie"), path)
	abi := bitmap.X86_64
	step := func(what string, set bitmap.Set, opts Options, want string) {
		t.Helper()
		res, err := Stamp(path, set, opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := f.Actions.Describe(abi); got != want || res.AfterActions.Describe(abi) != want {
			t.Errorf("%s: note says %s (result %s), want %s", what, got, res.AfterActions.Describe(abi), want)
		}
	}
	step("deny execve", bitmap.NewSet(abi, 59), Options{}, "kill")
	step("clone3:ENOSYS", bitmap.NewSet(abi, 435), Options{Actions: Actions{Overrides: map[int]filter.Action{435: enosys}}}, "kill; clone3: errno=ENOSYS")
	step("--action log, deny ptrace", bitmap.NewSet(abi, 101), Options{Actions: Actions{Default: log_}}, "kill; ptrace: log, clone3: errno=ENOSYS")
	step("clone3 again, kill", bitmap.NewSet(abi, 435), Options{}, "kill; ptrace: log")
	step("--replace, --action log", bitmap.NewSet(abi, 59, 435), Options{Replace: true, Actions: Actions{Default: log_}}, "log")
	res, err := Stamp(path, bitmap.NewSet(abi, 59), Options{Actions: Actions{Default: log_}})
	if err != nil || res.Changed {
		t.Errorf("the same again: changed %v, %v", res != nil && res.Changed, err)
	}
	if _, err := Stamp(path, bitmap.NewSet(abi, 59), Options{Actions: Actions{Overrides: map[int]filter.Action{101: eperm}}}); !errors.Is(err, filter.ErrOverride) {
		t.Errorf("override of a syscall not in the stamp's set: %v, want ErrOverride", err)
	}
	res, err = Remove(path, Options{})
	if err != nil || !res.Exact {
		t.Fatalf("Remove: %+v, %v", res, err)
	}
	if got, want := mustRead(t, path), mustRead(t, filepath.Join(fixtureDir, "x86_64-pie")); !bytes.Equal(got, want) {
		t.Errorf("after Remove: %d bytes differ from the fixture", diffBytes(got, want))
	}
}

// TestLegacyStampsWithActions: a note stamped before the undo record
// existed, re-stamped with actions, gets a note with an action note and
// an undo record (the layout changes: the legacy removal, then a new
// stamp), and removes to the original bytes whenever the legacy removal
// is exact.
func TestLegacyStampsWithActions(t *testing.T) {
	_, names, origs, stamped := legacyFiles(t)
	exact := 0
	defer func() {
		if exact == 0 {
			t.Error("no legacy stamp with actions was removed exactly: the byte check never ran")
		}
	}()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(stamped[name]))
			if err != nil {
				t.Fatal(err)
			}
			nrs := f.Set.Numbers()
			if len(nrs) == 0 {
				t.Skip("the legacy stamp restricts nothing")
			}
			legacyRm, err := PlanRemove(bytes.NewReader(stamped[name]))
			if err != nil {
				t.Fatal(err)
			}
			a := Actions{Default: kill, Overrides: map[int]filter.Action{nrs[0]: enosys}}
			p, err := PlanStampWith(bytes.NewReader(stamped[name]), f.Set, Options{Actions: a})
			if err != nil {
				t.Fatal(err)
			}
			out := p.Apply(bytes.Clone(stamped[name]))
			g, err := Read(bytes.NewReader(out))
			if err != nil || !g.Actions.Equal(a) || g.Note.UndoOff == 0 {
				t.Fatalf("re-stamped with actions: %+v, %v", g, err)
			}
			rm, err := PlanRemove(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			back := rm.Apply(bytes.Clone(out))
			if rm.Exact != legacyRm.Exact {
				t.Errorf("removal exact %v, the legacy removal's %v", rm.Exact, legacyRm.Exact)
			}
			if rm.Exact {
				exact++
				if !bytes.Equal(back, origs[name]) {
					t.Errorf("removal says exact, %d bytes differ", diffBytes(back, origs[name]))
				}
			}
			if h, err := Read(bytes.NewReader(back)); err != nil || h.Stamped {
				t.Errorf("after removal: %+v, %v", h, err)
			}
		})
	}
}

// TestDamagedStampKeepsActions: re-stamping a damaged stamp (its PT_NOTE
// dropped, as TestRepair does) repairs it and keeps its actions,
// accumulated like its set.
func TestDamagedStampKeepsActions(t *testing.T) {
	path := tempFixture(t, "x86_64-pie")
	abi := bitmap.X86_64
	if _, err := Stamp(path, bitmap.NewSet(abi, 59, 435), Options{Actions: Actions{Overrides: map[int]filter.Action{435: enosys}}}); err != nil {
		t.Fatal(err)
	}
	b := mustRead(t, path)
	im, err := parseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[im.phoff+uint64(im.note.Prog*im.phentsize):][:im.phentsize])
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); !errors.Is(err, ErrBadNote) {
		t.Fatalf("after dropping the PT_NOTE: %v, want a damaged stamp", err)
	}
	res, err := Stamp(path, bitmap.NewSet(abi, 101), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kill; clone3: errno=ENOSYS"; f.Actions.Describe(abi) != want || res.BeforeActions.Describe(abi) != want {
		t.Errorf("repaired: actions %s (before %s), want %s", f.Actions.Describe(abi), res.BeforeActions.Describe(abi), want)
	}
	if !f.Set.Equal(bitmap.NewSet(abi, 59, 101, 435)) {
		t.Errorf("repaired: set %v", f.Set)
	}
}

// FuzzActions: decodeActions never panics, refuses with ErrBadAction, and
// whatever it accepts encodes back to the same bytes (only the canonical
// form is accepted).
func FuzzActions(f *testing.F) {
	set := bitmap.NewSet(bitmap.X86_64, 56, 59, 435)
	f.Add(encodeActions(binary.LittleEndian, Actions{Default: kill, Overrides: map[int]filter.Action{56: log_, 435: enosys}}), false)
	f.Add(encodeActions(binary.BigEndian, Actions{Default: eperm}), true)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, desc []byte, big bool) {
		var bo binary.ByteOrder = binary.LittleEndian
		if big {
			bo = binary.BigEndian
		}
		full := bitmap.NewSet(bitmap.X86_64)
		for nr := range bitmap.Size {
			full.Add(nr)
		}
		for _, s := range []bitmap.Set{set, full} {
			a, err := decodeActions(desc, 0, bo, s)
			if err != nil {
				if !errors.Is(err, ErrBadAction) {
					t.Fatalf("error %v does not match ErrBadAction", err)
				}
				continue
			}
			if got := encodeActions(bo, a); !bytes.Equal(got, desc) {
				t.Fatalf("accepted % x, which encodes back as % x", desc, got)
			}
			for _, nr := range slices.Sorted(maps.Keys(a.Overrides)) {
				if !s.Has(nr) || a.Overrides[nr] == a.Default {
					t.Fatalf("accepted a non-canonical override of %d: %s", nr, a.Describe(bitmap.X86_64))
				}
			}
		}
	})
}

// FuzzStampActions is FuzzStamp with actions, plain or embedded: an
// error, or a file Read accepts (an embedded one with its stub verified,
// its filter the note's with the actions) with exactly the set and the
// actions asked for; re-stamping it with them changes nothing, and
// removal gives a file without a note (byte for byte the input when
// exact).
func FuzzStampActions(f *testing.F) {
	fuzzSeeds(f, func(b []byte) {
		f.Add(b, []byte{0x08, 0x01}, uint8(2), false, false)
		f.Add(b, []byte{0xff, 0x3b, 0x65}, uint8(1), true, false)
		f.Add(b, []byte{0x65, 0x02, 0xb3, 0x05}, uint8(0), false, true)
	})
	f.Fuzz(func(t *testing.T, data, spec []byte, def uint8, beyond, embed bool) {
		recorded := []filter.Action{kill, eperm, enosys, log_}
		set := bitmap.NewSet(bitmap.Unknown)
		a := Actions{Default: recorded[int(def)%len(recorded)]}
		for i := 0; i+1 < len(spec); i += 2 {
			nr := int(spec[i]) | int(spec[i+1]&1)<<8
			set.Add(nr)
			if o := recorded[int(spec[i+1]>>1)%len(recorded)]; o != a.Default {
				if a.Overrides == nil {
					a.Overrides = map[int]filter.Action{}
				}
				a.Overrides[nr] = o
			}
		}
		set.SetDenyBeyond(beyond)
		p, err := PlanStampWith(bytes.NewReader(data), set, Options{Actions: a, Embed: embed})
		if err != nil {
			mustClassify(t, err)
			return
		}
		if p.Size > int64(len(data))+64<<20 {
			return
		}
		out := p.Apply(bytes.Clone(data))
		ef, err := Read(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Read of the stamped file: %v (strategy %v)", err, p.Strategy)
		}
		if !ef.Stamped || !ef.Set.Equal(set.WithABI(ef.ABI)) || !ef.Actions.Equal(a) {
			t.Fatalf("stamped file reads %v %v %s, want %v %s", ef.Stamped, ef.Set, ef.Actions.Describe(ef.ABI), set, a.Describe(ef.ABI))
		}
		if embed && ef.Embed == nil {
			t.Fatalf("embedded stamp reads without its stub")
		}
		if p2, err := PlanStampWith(bytes.NewReader(out), set, Options{Actions: a, Embed: embed}); err != nil || p2.Changed() {
			t.Fatalf("re-stamping with the same set and actions: %v changed=%v", err, p2 != nil && p2.Changed())
		}
		rm, err := PlanRemove(bytes.NewReader(out))
		if err != nil {
			if ef.Note.Shared {
				return
			}
			t.Fatalf("PlanRemove of a stamped file: %v", err)
		}
		back := rm.Apply(bytes.Clone(out))
		if ef, err := Read(bytes.NewReader(back)); err != nil || ef.Stamped {
			t.Fatalf("after removal: %+v, %v", ef, err)
		}
		// An input stamped already is given back as it was before its
		// first stamp: only an unstamped one must come back as it is.
		if in, err := Read(bytes.NewReader(data)); err == nil && !in.Stamped && rm.Exact && !bytes.Equal(back, data) {
			t.Fatalf("removal said Exact but differs from the input (strategy %v)", p.Strategy)
		}
	})
}
