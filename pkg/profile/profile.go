package profile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Version is the format version this package writes. Read reads it and
// version 1, which recorded executables by path alone (see Read).
const Version = 2

// Profile is what learning (and auditing) recorded: the syscalls each
// executable made, per ABI, and the runs that made them.
type Profile struct {
	// Executables is sorted by ID; at most one entry per ID.
	Executables []Executable
	// Runs lists every run merged into the profile, oldest first.
	Runs []Run
}

// ID identifies an executable file: by its build ID where it has one,
// else by its path and size (see Matches).
type ID struct {
	// Path is where the executable was (/proc/PID/exe), "" if unknown.
	Path string
	// BuildID is the file's build ID, "gnu:HEX" or "go:ID"
	// (elfnote.Identity); "" if it has none.
	BuildID string
	// Size is, for a file without a build ID, its size before it was
	// stamped (elfnote.Identity); 0 when the profile does not know it
	// (version 1 recorded paths only).
	Size int64
}

// Executable is what one executable did under a run.
type Executable struct {
	ID
	// Under lists the programs whose runs it made these syscalls in: the
	// PROGRAM of each --learn or --audit run that recorded it (for
	// PROGRAM itself, PROGRAM). Everything a run records is PROGRAM's or
	// a descendant's, so an executable under FILE ran under the filter a
	// stamp of FILE installs. Sorted, without duplicates.
	Under []ID
	// Syscalls is sorted by ABI, then number; at most one entry per pair.
	Syscalls []Syscall
}

// Syscall is one syscall number of one ABI seen during learning.
type Syscall struct {
	ABI bitmap.ABI
	Nr  int
	// Name is the syscall's name in ABI's table, or the number in decimal
	// when the table has none (see bitmap.ABI.Name).
	Name string
	// Count is how many times it was made, over all runs.
	Count uint64
}

// Run describes one learning or audit run.
type Run struct {
	Mode       string // "learn" (sysrestrict-exec --learn) or "audit" (--audit)
	Argv       []string
	Executable string     // PROGRAM as executed (an absolute path)
	ABI        bitmap.ABI // PROGRAM's ABI
	Time       time.Time  // when the run started
	Status     string     // how PROGRAM ended: "exit 0", "signal SIGSYS"
}

// The modes of a Run.
const (
	ModeLearn = "learn"
	ModeAudit = "audit"
)

// String names the executable for a person: its path and its build ID or
// size.
func (id ID) String() string {
	path := id.Path
	if path == "" {
		path = "an unknown executable"
	}
	switch {
	case id.BuildID != "":
		return path + " (build ID " + id.BuildID + ")"
	case id.Size != 0:
		return fmt.Sprintf("%s (no build ID, %d bytes)", path, id.Size)
	}
	return path
}

// Matches reports whether the executable recorded as id is the file
// target: the same build ID when either has one; else the same path and
// size. An ID of a version 1 profile (a path, no size) matches a file at
// that path, whatever its build ID. An unknown executable (no path)
// matches nothing.
func (id ID) Matches(target ID) bool {
	switch {
	case id.BuildID == "" && id.Size == 0:
		return id.Path != "" && id.Path == target.Path
	case id.BuildID != "" || target.BuildID != "":
		return id.BuildID == target.BuildID
	}
	return id.Path != "" && id.Path == target.Path && id.Size == target.Size
}

func compareID(a, b ID) int {
	return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.BuildID, b.BuildID), cmp.Compare(a.Size, b.Size))
}

// Add records count calls of syscall nr of abi made by the executable exe
// in a run of the program under (ID{} for an unknown executable or
// program), keeping p sorted.
func (p *Profile) Add(exe, under ID, abi bitmap.ABI, nr int, count uint64) {
	e := p.executable(exe)
	if under != (ID{}) {
		if j, found := slices.BinarySearchFunc(e.Under, under, compareID); !found {
			e.Under = slices.Insert(e.Under, j, under)
		}
	}
	e.add(abi, nr, count)
}

// executable returns p's entry for id, adding an empty one if need be.
func (p *Profile) executable(id ID) *Executable {
	i, found := slices.BinarySearchFunc(p.Executables, id, func(e Executable, id ID) int { return compareID(e.ID, id) })
	if !found {
		p.Executables = slices.Insert(p.Executables, i, Executable{ID: id})
	}
	return &p.Executables[i]
}

func (e *Executable) add(abi bitmap.ABI, nr int, count uint64) {
	i, found := slices.BinarySearchFunc(e.Syscalls, key{abi, nr}, compareKey)
	if !found {
		e.Syscalls = slices.Insert(e.Syscalls, i, Syscall{ABI: abi, Nr: nr, Name: abi.Name(nr)})
	}
	e.Syscalls[i].Count += count
}

type key struct {
	abi bitmap.ABI
	nr  int
}

func compareKey(sc Syscall, k key) int {
	return cmp.Or(cmp.Compare(sc.ABI, k.abi), cmp.Compare(sc.Nr, k.nr))
}

// Syscalls returns every syscall the profile records, of every executable,
// sorted by ABI and number, with the counts summed.
func (p *Profile) Syscalls() []Syscall {
	var all Executable
	for _, e := range p.Executables {
		for _, sc := range e.Syscalls {
			all.add(sc.ABI, sc.Nr, sc.Count)
		}
	}
	return all.Syscalls
}

// MadeBy returns the executables that made syscall nr of abi.
func (p *Profile) MadeBy(abi bitmap.ABI, nr int) []ID {
	var ids []ID
	for _, e := range p.Executables {
		if _, found := slices.BinarySearchFunc(e.Syscalls, key{abi, nr}, compareKey); found {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// ABIs returns the ABIs the profile records syscalls of, in bitmap.ABI
// order.
func (p *Profile) ABIs() []bitmap.ABI {
	var abis []bitmap.ABI
	for _, sc := range p.Syscalls() {
		if len(abis) == 0 || abis[len(abis)-1] != sc.ABI {
			abis = append(abis, sc.ABI)
		}
	}
	return abis
}

// For returns the part of the profile that a stamp of the file target
// must allow: the entries of the executables that match target (ID.Matches)
// and of those that ran under it (Executable.Under), with every run. A
// program's filter is inherited by what it starts, so what it starts needs
// its syscalls allowed too; what started it (the shell of a learning run)
// does not.
//
// A profile that names no executable at all (every entry of an unknown
// one, run under none: written by hand, or a version 1 profile whose
// entries list no executables) has nothing to select by, and is taken
// whole, as version 1 took every profile.
//
// It fails with ErrNoExecutable, naming the executables the profile does
// record, when no entry is target's or under it.
func (p *Profile) For(target ID) (*Profile, error) {
	if !p.names() {
		return p, nil
	}
	out := &Profile{Runs: p.Runs}
	for _, e := range p.Executables {
		if e.Matches(target) || slices.ContainsFunc(e.Under, func(u ID) bool { return u.Matches(target) }) {
			out.Executables = append(out.Executables, e)
		}
	}
	if len(out.Executables) == 0 {
		var have []string
		for _, e := range p.Executables {
			have = append(have, e.ID.String())
		}
		if have == nil {
			have = []string{"none"}
		}
		return out, fmt.Errorf("%w: nothing recorded for %s; it records: %s", ErrNoExecutable, target, strings.Join(have, ", "))
	}
	return out, nil
}

// names reports whether the profile names any executable: an entry's own,
// or one it ran under.
func (p *Profile) names() bool {
	for _, e := range p.Executables {
		if e.ID != (ID{}) || len(e.Under) > 0 {
			return true
		}
	}
	return false
}

// Set returns the syscalls recorded for abi, by every executable, as a set
// of abi: the syscalls an allowlist stamped from the profile must keep.
// (For first, to keep only those of the file stamped.)
//
// It fails with ErrNoABI when the profile records nothing for abi. When the
// profile records numbers >= bitmap.Size for abi (x32's 512+ numbers, ARM's
// private syscalls), the returned set holds every number below bitmap.Size
// and the error wraps ErrBeyond and names the others: a caller that goes on
// knows the allowlist will restrict them.
func (p *Profile) Set(abi bitmap.ABI) (bitmap.Set, error) {
	s := bitmap.NewSet(abi)
	var seen bool
	var beyond []string
	for _, sc := range p.Syscalls() {
		if sc.ABI != abi {
			continue
		}
		seen = true
		if sc.Nr >= bitmap.Size {
			beyond = append(beyond, fmt.Sprintf("%s (%d)", sc.Name, sc.Nr))
			continue
		}
		s.Add(sc.Nr)
	}
	if !seen {
		return s, fmt.Errorf("%w: want %s, profile holds %v", ErrNoABI, abi, p.ABIs())
	}
	if beyond != nil {
		return s, fmt.Errorf("%w: %s: %v", ErrBeyond, abi, beyond)
	}
	return s, nil
}

// Merge returns the union of the profiles: the executables of each, their
// counts summed and the programs they ran under merged, and the runs of
// every input appended in argument order. The inputs are not changed.
func Merge(profiles ...*Profile) *Profile {
	out := &Profile{}
	for _, p := range profiles {
		if p == nil {
			continue
		}
		for _, e := range p.Executables {
			o := out.executable(e.ID)
			for _, u := range e.Under {
				if j, found := slices.BinarySearchFunc(o.Under, u, compareID); !found {
					o.Under = slices.Insert(o.Under, j, u)
				}
			}
			for _, sc := range e.Syscalls {
				o.add(sc.ABI, sc.Nr, sc.Count)
			}
		}
		for _, r := range p.Runs {
			r.Argv = slices.Clone(r.Argv)
			out.Runs = append(out.Runs, r)
		}
	}
	return out
}
