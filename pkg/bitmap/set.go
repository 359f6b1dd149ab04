package bitmap

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math/bits"
	"strconv"
	"strings"
)

// Size is the number of syscall numbers a bitmap covers: 0 to Size-1.
const Size = 512

// Bytes is the length of the encoded bitmap, the NT_SYSRESTRICT_BITMAP
// descriptor.
const Bytes = Size / 8

// Flags of the NT_SYSRESTRICT_FLAGS note (SPEC section 1).
const (
	// FlagDenyBeyond restricts every syscall number >= Size as well.
	FlagDenyBeyond uint32 = 1 << 0

	// KnownFlags is every flag bit this version understands; a reader
	// rejects any other.
	KnownFlags = FlagDenyBeyond
)

const words = Size / 64

// Set is a set of restricted syscall numbers of one ABI: 512 bits plus the
// DENY_BEYOND flag, which stands for every number from Size up.
//
// The zero value is the empty set of the Unknown ABI. Sets are values: the
// algebra returns new sets and never changes its operands.
type Set struct {
	// bits first, abi and beyond side by side after it: 72 bytes rather
	// than 80, which keeps filter.Program, which holds a Set, in the
	// allocation size class the loader's start-up shares (TestProgramSize).
	bits   [words]uint64
	abi    ABI
	beyond bool
}

// NewSet returns a set of the given ABI holding nrs. It panics if a number
// is outside 0..Size-1; Parse is the checked way in from user input.
func NewSet(abi ABI, nrs ...int) Set {
	s := Set{abi: abi}
	for _, nr := range nrs {
		s.Add(nr)
	}
	return s
}

// ABI returns the ABI whose numbers the set holds.
func (s Set) ABI() ABI { return s.abi }

// WithABI returns s read as a set of numbers of abi.
func (s Set) WithABI(abi ABI) Set { s.abi = abi; return s }

// Has reports whether syscall number nr is restricted. Numbers >= Size are
// restricted exactly when the set has DENY_BEYOND; negative numbers never.
func (s Set) Has(nr int) bool {
	switch {
	case nr < 0:
		return false
	case nr >= Size:
		return s.beyond
	}
	return s.bits[nr/64]&(1<<(nr%64)) != 0
}

// Add restricts nr. It panics if nr is outside 0..Size-1.
func (s *Set) Add(nr int) {
	checkRange(nr)
	s.bits[nr/64] |= 1 << (nr % 64)
}

// Remove lifts the restriction on nr. It panics if nr is outside 0..Size-1.
func (s *Set) Remove(nr int) {
	checkRange(nr)
	s.bits[nr/64] &^= 1 << (nr % 64)
}

func checkRange(nr int) {
	if nr < 0 || nr >= Size {
		panic("bitmap: syscall number " + strconv.Itoa(nr) + " outside 0.." + strconv.Itoa(Size-1))
	}
}

// DenyBeyond reports whether numbers >= Size are restricted.
func (s Set) DenyBeyond() bool { return s.beyond }

// SetDenyBeyond sets or clears the DENY_BEYOND flag.
func (s *Set) SetDenyBeyond(on bool) { s.beyond = on }

// Union returns the numbers restricted by s or t (DENY_BEYOND if either has
// it). The result has s's ABI.
func (s Set) Union(t Set) Set {
	for i := range s.bits {
		s.bits[i] |= t.bits[i]
	}
	s.beyond = s.beyond || t.beyond
	return s
}

// Intersect returns the numbers restricted by both s and t.
func (s Set) Intersect(t Set) Set {
	for i := range s.bits {
		s.bits[i] &= t.bits[i]
	}
	s.beyond = s.beyond && t.beyond
	return s
}

// Difference returns the numbers restricted by s and not by t.
func (s Set) Difference(t Set) Set {
	for i := range s.bits {
		s.bits[i] &^= t.bits[i]
	}
	s.beyond = s.beyond && !t.beyond
	return s
}

// Complement returns every number s does not restrict: 0..Size-1 not in s,
// and DENY_BEYOND flipped.
func (s Set) Complement() Set {
	for i := range s.bits {
		s.bits[i] = ^s.bits[i]
	}
	s.beyond = !s.beyond
	return s
}

// Contains reports whether s restricts at least everything t restricts.
func (s Set) Contains(t Set) bool {
	return t.Difference(s).IsEmpty()
}

// Equal reports whether s and t restrict the same numbers (ABIs aside).
func (s Set) Equal(t Set) bool {
	return s.bits == t.bits && s.beyond == t.beyond
}

// IsEmpty reports whether s restricts nothing at all.
func (s Set) IsEmpty() bool {
	return s.bits == [words]uint64{} && !s.beyond
}

// Len returns how many of the numbers 0..Size-1 are restricted.
// DENY_BEYOND is not counted.
func (s Set) Len() int {
	n := 0
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return n
}

// All yields the restricted numbers below Size in increasing order.
func (s Set) All() iter.Seq[int] {
	return func(yield func(int) bool) {
		for i, w := range s.bits {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				if !yield(i*64 + b) {
					return
				}
				w &^= 1 << b
			}
		}
	}
}

// Numbers returns the restricted numbers below Size in increasing order.
func (s Set) Numbers() []int {
	nrs := make([]int, 0, s.Len())
	for nr := range s.All() {
		nrs = append(nrs, nr)
	}
	return nrs
}

// Bitmap returns the NT_SYSRESTRICT_BITMAP descriptor of s: bit n is byte
// n/8, mask 1<<(n%8) (SPEC section 1; docs/note-format.md draws it).
func (s Set) Bitmap() [Bytes]byte {
	var b [Bytes]byte
	for i, w := range s.bits {
		binary.LittleEndian.PutUint64(b[i*8:], w)
	}
	return b
}

// Flags returns the NT_SYSRESTRICT_FLAGS value of s.
func (s Set) Flags() uint32 {
	if s.beyond {
		return FlagDenyBeyond
	}
	return 0
}

// FromNote decodes a note's bitmap and flags into a set of abi. It fails,
// closed, on a bitmap of the wrong length or on flag bits it does not know.
func FromNote(abi ABI, bitmap []byte, flags uint32) (Set, error) {
	if len(bitmap) != Bytes {
		return Set{}, fmt.Errorf("%w: bitmap is %d bytes, want %d", ErrBadNote, len(bitmap), Bytes)
	}
	if unknown := flags &^ KnownFlags; unknown != 0 {
		return Set{}, fmt.Errorf("%w: unknown flag bits %#x (this sysrestrict knows %#x)", ErrBadNote, unknown, KnownFlags)
	}
	s := Set{abi: abi, beyond: flags&FlagDenyBeyond != 0}
	for i := range s.bits {
		s.bits[i] = binary.LittleEndian.Uint64(bitmap[i*8:])
	}
	return s, nil
}

// String returns the set as names of its ABI in braces, in number order,
// with numbers that have no name given as numbers and DENY_BEYOND as
// "512+": {execve,ptrace}, {59,101,512+}.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	for nr := range s.All() {
		sep()
		b.WriteString(s.abi.Name(nr))
	}
	if s.beyond {
		sep()
		b.WriteString(strconv.Itoa(Size) + "+")
	}
	b.WriteByte('}')
	return b.String()
}
