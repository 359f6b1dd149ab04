package bitmap

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBitmapEncoding pins the byte and bit order of SPEC section 1:
// bit n is byte n/8, mask 1<<(n%8).
func TestBitmapEncoding(t *testing.T) {
	tests := []struct {
		nr   int
		byte int
		mask byte
	}{
		{0, 0, 0x01}, {7, 0, 0x80}, {8, 1, 0x01}, {59, 7, 0x08}, {101, 12, 0x20},
		{63, 7, 0x80}, {64, 8, 0x01}, {511, 63, 0x80},
	}
	for _, tt := range tests {
		b := NewSet(X86_64, tt.nr).Bitmap()
		var want [Bytes]byte
		want[tt.byte] = tt.mask
		if b != want {
			t.Errorf("NewSet(%d).Bitmap() = %x, want %x", tt.nr, b, want)
		}
		s, err := FromNote(X86_64, b[:], 0)
		if err != nil || !s.Has(tt.nr) || s.Len() != 1 {
			t.Errorf("FromNote(Bitmap(%d)) = %v, %v, want {%d}", tt.nr, s, err, tt.nr)
		}
	}
}

func TestFromNoteRejects(t *testing.T) {
	var b [Bytes]byte
	if _, err := FromNote(X86_64, b[:63], 0); !errors.Is(err, ErrBadNote) {
		t.Errorf("FromNote(63 bytes) error = %v, want ErrBadNote", err)
	}
	if _, err := FromNote(X86_64, b[:], 2); !errors.Is(err, ErrBadNote) {
		t.Errorf("FromNote(flags 2) error = %v, want ErrBadNote", err)
	}
	s, err := FromNote(X86_64, b[:], FlagDenyBeyond)
	if err != nil || !s.DenyBeyond() || !s.Has(512) || !s.Has(1<<30) || s.Has(0) {
		t.Errorf("FromNote(DENY_BEYOND) = %v, %v", s, err)
	}
	if s.Flags() != FlagDenyBeyond {
		t.Errorf("Flags() = %d, want %d", s.Flags(), FlagDenyBeyond)
	}
}

// model is a plain-map reference for the Set algebra.
type model struct {
	nrs    map[int]bool
	beyond bool
}

func randomSet(r *rand.Rand) (Set, model) {
	s := NewSet(X86_64)
	m := model{nrs: map[int]bool{}}
	for range r.IntN(40) {
		nr := r.IntN(Size)
		s.Add(nr)
		m.nrs[nr] = true
	}
	if r.IntN(2) == 0 {
		s.SetDenyBeyond(true)
		m.beyond = true
	}
	return s, m
}

func (m model) has(nr int) bool {
	if nr >= Size {
		return m.beyond
	}
	return m.nrs[nr]
}

func TestAlgebraAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		a, ma := randomSet(r)
		b, mb := randomSet(r)
		ops := []struct {
			name string
			got  Set
			want func(int) bool
		}{
			{"Union", a.Union(b), func(n int) bool { return ma.has(n) || mb.has(n) }},
			{"Intersect", a.Intersect(b), func(n int) bool { return ma.has(n) && mb.has(n) }},
			{"Difference", a.Difference(b), func(n int) bool { return ma.has(n) && !mb.has(n) }},
			{"Complement", a.Complement(), func(n int) bool { return !ma.has(n) }},
		}
		for _, op := range ops {
			for nr := 0; nr <= Size; nr++ {
				if got, want := op.got.Has(nr), op.want(nr); got != want {
					t.Fatalf("case %d: %v.%s(%v).Has(%d) = %v, want %v", i, a, op.name, b, nr, got, want)
				}
			}
		}
		wantLen := len(ma.nrs)
		if a.Len() != wantLen {
			t.Fatalf("%v.Len() = %d, want %d", a, a.Len(), wantLen)
		}
		if !a.Union(b).Contains(a) || !a.Union(b).Contains(b) {
			t.Fatalf("Union(%v, %v) does not contain both", a, b)
		}
		if got := a.Contains(b); got != b.Difference(a).IsEmpty() {
			t.Fatalf("%v.Contains(%v) = %v", a, b, got)
		}
		round, err := FromNote(X86_64, ptr(a.Bitmap())[:], a.Flags())
		if err != nil || !round.Equal(a) {
			t.Fatalf("FromNote(Bitmap(%v)) = %v, %v", a, round, err)
		}
	}
}

func ptr(b [Bytes]byte) *[Bytes]byte { return &b }

func TestNumbersAndString(t *testing.T) {
	s := NewSet(X86_64, 101, 59, 0, 511)
	if diff := cmp.Diff([]int{0, 59, 101, 511}, s.Numbers()); diff != "" {
		t.Errorf("Numbers() mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		s    Set
		want string
	}{
		{NewSet(X86_64), "{}"},
		{NewSet(X86_64, 59, 101), "{execve,ptrace}"},
		{NewSet(AARCH64, 221), "{execve}"},
		{NewSet(Unknown, 59, 101), "{59,101}"},
		{s, "{read,execve,ptrace,511}"},
		{func() Set { s := NewSet(X86_64, 59); s.SetDenyBeyond(true); return s }(), "{execve,512+}"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestAddPanicsOutOfRange(t *testing.T) {
	for _, nr := range []int{-1, Size, 1 << 20} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%d) did not panic", nr)
				}
			}()
			var s Set
			s.Add(nr)
		}()
	}
}
