package elfnote

import (
	"cmp"
	"math/bits"
	"slices"
	"sort"
)

// smallProgs is the number of program headers up to which checkLayout
// asks inLoad and mapsFile directly: a pass over a dozen headers costs
// less than building an index, and allocates nothing on the loader's path.
const smallProgs = 32

// loadIndex answers image.inLoad and image.mapsFile in O(log n) for a file
// with many program headers: the PT_LOADs sorted by file offset (for
// inLoad) and by the distance from file offset to address, then offset
// (for mapsFile), each entry with the furthest end reached by it and the
// entries before it (within its distance, for mapsFile). A byte range
// [off, end) lies in some PT_LOAD that starts at or before off exactly
// when the furthest end of those reaches end.
type loadIndex struct {
	byOff, byDelta []loadSpan
}

type loadSpan struct {
	off, delta uint64
	reach      end65 // the furthest end of this span and the ones before it
}

// end65 is an offset plus a size without overflow: the carry, then the
// low 64 bits. Hostile headers can put a segment's end past 2⁶⁴.
type end65 struct{ carry, lo uint64 }

func endOf(off, size uint64) end65 {
	lo, carry := bits.Add64(off, size, 0)
	return end65{carry, lo}
}

func (a end65) cmp(b end65) int {
	if c := cmp.Compare(a.carry, b.carry); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func newLoadIndex(progs []prog) *loadIndex {
	var spans []loadSpan
	for _, l := range progs {
		if l.Type == ptLoad {
			spans = append(spans, loadSpan{off: l.Off, delta: l.Vaddr - l.Off, reach: endOf(l.Off, l.Filesz)})
		}
	}
	ix := &loadIndex{byOff: slices.Clone(spans), byDelta: spans}
	slices.SortFunc(ix.byOff, func(a, b loadSpan) int { return cmp.Compare(a.off, b.off) })
	for i := 1; i < len(ix.byOff); i++ {
		if ix.byOff[i-1].reach.cmp(ix.byOff[i].reach) > 0 {
			ix.byOff[i].reach = ix.byOff[i-1].reach
		}
	}
	slices.SortFunc(ix.byDelta, func(a, b loadSpan) int {
		if c := cmp.Compare(a.delta, b.delta); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	for i := 1; i < len(ix.byDelta); i++ {
		prev := ix.byDelta[i-1]
		if prev.delta == ix.byDelta[i].delta && prev.reach.cmp(ix.byDelta[i].reach) > 0 {
			ix.byDelta[i].reach = prev.reach
		}
	}
	return ix
}

// reaches reports whether the last span of s that starts at or before off
// reaches end; s is sorted by offset, each reach the furthest so far.
func reaches(s []loadSpan, off uint64, end end65) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].off > off }) - 1
	return i >= 0 && s[i].reach.cmp(end) >= 0
}

// inLoad is image.inLoad.
func (ix *loadIndex) inLoad(off, size uint64) bool {
	return reaches(ix.byOff, off, endOf(off, size))
}

// mapsFile is image.mapsFile: a PT_LOAD maps file offset off at vaddr
// exactly when its address minus its offset is vaddr - off (modulo 2⁶⁴,
// as the kernel computes addresses).
func (ix *loadIndex) mapsFile(vaddr, off, size uint64) bool {
	delta := vaddr - off
	s := ix.byDelta
	lo := sort.Search(len(s), func(i int) bool { return s[i].delta >= delta })
	hi := sort.Search(len(s), func(i int) bool { return s[i].delta > delta })
	return reaches(s[lo:hi], off, endOf(off, size))
}
