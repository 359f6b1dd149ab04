package profile

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Version is the format version this package writes and reads.
const Version = 1

// Profile is what learning recorded: the syscalls made, per ABI, and the
// runs that made them.
type Profile struct {
	// Syscalls is sorted by ABI, then number; at most one entry per pair.
	Syscalls []Syscall
	// Runs lists every learning run merged into the profile, oldest first.
	Runs []Run
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
	// Executables are the programs (as /proc/PID/exe named them) that made
	// it, sorted, without duplicates.
	Executables []string
}

// Run describes one learning run.
type Run struct {
	Argv       []string
	Executable string     // PROGRAM as executed (an absolute path)
	ABI        bitmap.ABI // PROGRAM's ABI
	Time       time.Time  // when the run started
	Status     string     // how PROGRAM ended: "exit 0", "signal SIGSYS"
}

// Add records count calls of syscall nr of abi made by executable exe
// (empty if unknown), keeping p sorted.
func (p *Profile) Add(abi bitmap.ABI, nr int, exe string, count uint64) {
	i, found := slices.BinarySearchFunc(p.Syscalls, key{abi, nr}, compareKey)
	if !found {
		p.Syscalls = slices.Insert(p.Syscalls, i, Syscall{ABI: abi, Nr: nr, Name: abi.Name(nr)})
	}
	sc := &p.Syscalls[i]
	sc.Count += count
	if exe != "" {
		if j, found := slices.BinarySearch(sc.Executables, exe); !found {
			sc.Executables = slices.Insert(sc.Executables, j, exe)
		}
	}
}

type key struct {
	abi bitmap.ABI
	nr  int
}

func compareKey(sc Syscall, k key) int {
	return cmp.Or(cmp.Compare(sc.ABI, k.abi), cmp.Compare(sc.Nr, k.nr))
}

// ABIs returns the ABIs the profile records syscalls of, in bitmap.ABI
// order.
func (p *Profile) ABIs() []bitmap.ABI {
	var abis []bitmap.ABI
	for _, sc := range p.Syscalls {
		if len(abis) == 0 || abis[len(abis)-1] != sc.ABI {
			abis = append(abis, sc.ABI)
		}
	}
	return abis
}

// Set returns the syscalls recorded for abi as a set of abi: the syscalls an
// allowlist stamped from the profile must keep.
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
	for _, sc := range p.Syscalls {
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

// Merge returns the union of the profiles: every syscall of each, counts
// summed and executables merged, and their runs appended in argument order.
// The inputs are not changed.
func Merge(profiles ...*Profile) *Profile {
	out := &Profile{}
	for _, p := range profiles {
		if p == nil {
			continue
		}
		for _, sc := range p.Syscalls {
			out.Add(sc.ABI, sc.Nr, "", sc.Count)
			i, _ := slices.BinarySearchFunc(out.Syscalls, key{sc.ABI, sc.Nr}, compareKey)
			exes := &out.Syscalls[i].Executables
			*exes = append(*exes, sc.Executables...)
			slices.Sort(*exes)
			*exes = slices.Compact(*exes)
		}
		for _, r := range p.Runs {
			r.Argv = slices.Clone(r.Argv)
			out.Runs = append(out.Runs, r)
		}
	}
	return out
}
