package filter

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// wordsOf returns v as the placeholders' instruction words.
func wordsOf(v Values) *words {
	return &words{fd: uint32(v.Fd), secretLo: uint32(v.Secret), secretHi: uint32(v.Secret >> 32), sentinel: v.Sentinel}
}

// TestFixedShape is gVisor precompiledseccomp's check: every filter of the
// reference-model test is compiled twice, with two sets of stand-ins for
// its run-time values that differ in every bit, and the two programs must
// differ in exactly the words the compiler says hold the placeholders —
// nowhere else, not in length, not in a jump. Then rendering values into
// Build's program must give the program compiled with those values.
func TestFixedShape(t *testing.T) {
	a := &words{fd: 0x0f0f0f0f, secretLo: 0x12345678, secretHi: 0x0badf00d, sentinel: 0x1f00d00d}
	b := &words{fd: ^a.fd, secretLo: ^a.secretLo, secretHi: ^a.secretHi, sentinel: ^a.sentinel}
	for _, c := range cases(t) {
		pa, err := build(c.set, c.opts, a)
		if err != nil {
			t.Fatalf("%s: build: %v", c.name, err)
		}
		pb, err := build(c.set, c.opts, b)
		if err != nil {
			t.Fatalf("%s: build: %v", c.name, err)
		}
		if pa.Len() != pb.Len() {
			t.Fatalf("%s: %d instructions with one set of stand-ins, %d with the other", c.name, pa.Len(), pb.Len())
		}
		if pa.slots != pb.slots {
			t.Fatalf("%s: placeholders at %v with one set of stand-ins, %v with the other", c.name, pa.slots, pb.slots)
		}
		var differ []uint16
		for i := range pa.prog {
			x, y := pa.prog[i], pb.prog[i]
			if x.Op != y.Op || x.Jt != y.Jt || x.Jf != y.Jf {
				t.Errorf("%s: instruction %d is %+v with one set of stand-ins, %+v with the other", c.name, i, x, y)
			}
			if x.K != y.K {
				differ = append(differ, uint16(i))
			}
		}
		var recorded []uint16
		for _, pc := range pa.slots.at {
			if pc != noSlot {
				recorded = append(recorded, pc)
			}
		}
		slices.Sort(recorded)
		if !slices.Equal(differ, recorded) {
			t.Errorf("%s: the stand-ins change words %v, the compiler's placeholders are %v:\n%v", c.name, differ, recorded, pa)
		}
		// Which placeholders the program holds follows from the options.
		want := 0
		if pa.Gated() {
			want += 3 // fd, both halves of the secret
		}
		if c.opts.Sentinel {
			want++
		}
		if len(recorded) != want {
			t.Errorf("%s: %d placeholders, want %d (gated %v, sentinel %v)", c.name, len(recorded), want, pa.Gated(), c.opts.Sentinel)
		}

		// Rendering is compiling with the values.
		p, err := Build(c.set, c.opts)
		if err != nil {
			t.Fatalf("%s: Build: %v", c.name, err)
		}
		if err := p.Render(c.vals); err != nil {
			t.Fatalf("%s: Render(%+v): %v", c.name, c.vals, err)
		}
		direct, err := build(c.set, c.opts, wordsOf(c.vals))
		if err != nil {
			t.Fatalf("%s: build: %v", c.name, err)
		}
		if diff := cmp.Diff(direct.prog, p.prog); diff != "" {
			t.Errorf("%s: Render(%+v) differs from the program compiled with those values (-compiled +rendered):\n%s", c.name, c.vals, diff)
		}
		// And again, with other values: nothing of the first stays.
		again := Values{Secret: ^c.vals.Secret, Fd: c.vals.Fd + 1, Sentinel: c.vals.Sentinel ^ 1}
		if err := p.Render(again); err != nil {
			t.Fatalf("%s: Render(%+v): %v", c.name, again, err)
		}
		direct, _ = build(c.set, c.opts, wordsOf(again))
		if diff := cmp.Diff(direct.prog, p.prog); diff != "" {
			t.Errorf("%s: second Render(%+v) differs from the program compiled with those values (-compiled +rendered):\n%s", c.name, again, diff)
		}
		if p.Values() != again {
			t.Errorf("%s: Values() = %+v after Render(%+v)", c.name, p.Values(), again)
		}
	}
}

// TestRenderRefuses: values that would open the gate to anyone or kill the
// loader's own exec are refused, with ErrValue, and leave the program as
// it was.
func TestRenderRefuses(t *testing.T) {
	gate := Options{Gate: true, GateABI: bitmap.X86_64}
	both := Options{Gate: true, GateABI: bitmap.X86_64, Sentinel: true}
	execveat := bitmap.NewSet(bitmap.X86_64, 59, 322)
	good := Values{Secret: 0x1122334455667788, Fd: 3, Sentinel: 0x10000001}
	tests := []struct {
		name string
		set  bitmap.Set
		opts Options
		v    Values
	}{
		{"zero secret", execveat, gate, Values{Fd: 3}},
		{"negative fd", execveat, gate, Values{Secret: 1, Fd: -1}},
		{"fd beyond int32", execveat, gate, Values{Secret: 1, Fd: math.MaxInt32 + 1}},
		{"zero secret, gate not compiled in", bitmap.NewSet(bitmap.X86_64), gate, Values{Fd: 3}},
		{"zero sentinel", execveat, Options{Sentinel: true}, Values{}},
		{"sentinel is the gate's execveat", execveat, both, Values{Secret: 1, Fd: 3, Sentinel: 322}},
		{"sentinel is the gate's execveat, gate not compiled in", bitmap.NewSet(bitmap.X86_64), both, Values{Secret: 1, Fd: 3, Sentinel: 322}},
	}
	for _, tt := range tests {
		p, err := Build(tt.set, tt.opts)
		if err != nil {
			t.Fatalf("%s: Build: %v", tt.name, err)
		}
		if err := p.Render(good); err != nil {
			t.Fatalf("%s: Render(%+v): %v", tt.name, good, err)
		}
		before := slices.Clone(p.prog)
		if err := p.Render(tt.v); !errors.Is(err, ErrValue) {
			t.Errorf("%s: Render(%+v) = %v, want ErrValue", tt.name, tt.v, err)
		}
		if !slices.Equal(before, p.prog) || p.Values() != good {
			t.Errorf("%s: a refused Render changed the program", tt.name)
		}
	}
}

// TestUnrenderedFailsClosed: a program whose placeholders were never
// rendered says so, and its gate lets no real exec through: it names
// descriptor -1, which execveat refuses (EBADF) after the filter.
func TestUnrenderedFailsClosed(t *testing.T) {
	p, err := Build(bitmap.NewSet(bitmap.X86_64, 59, 322), Options{Gate: true, GateABI: bitmap.X86_64, Sentinel: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Rendered() {
		t.Errorf("Rendered() = true before Render")
	}
	for fd := range uint64(1024) {
		for _, secret := range []uint64{0, 1, 0xffffffffffffffff} {
			args := [6]uint64{fd, 0, 0, 0, AT_EMPTY_PATH, secret}
			if got := Eval(p.prog, bitmap.AUDIT_ARCH_X86_64, 322, args); got != SECCOMP_RET_KILL_PROCESS {
				t.Fatalf("unrendered gate: execveat(%d, ..., secret %#x) = %s, want KILL_PROCESS", fd, secret, RetName(got))
			}
		}
	}
	if got := Eval(p.prog, bitmap.AUDIT_ARCH_X86_64, 0xffffffff, [6]uint64{}); got != SECCOMP_RET_KILL_PROCESS {
		t.Errorf("unrendered sentinel: nr -1 = %s, want KILL_PROCESS", RetName(got))
	}
	q, err := Build(bitmap.NewSet(bitmap.X86_64, 59), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !q.Rendered() {
		t.Errorf("a program without placeholders: Rendered() = false")
	}
}

// TestProgramSize pins the size of Program: the loader allocates one at
// every exec. At 176 bytes (the placeholders' values and positions kept
// at full width) it fell into an allocation size class nothing else of
// the loader's start-up used, and the loader took one more page fault
// (median of 600 interleaved runs); at 144 it shares the class of the
// Filter it replaced.
func TestProgramSize(t *testing.T) {
	if got := reflect.TypeFor[Program]().Size(); got > 144 {
		t.Errorf("Program is %d bytes, want at most 144 (docs/exec.md, Start-up)", got)
	}
}
