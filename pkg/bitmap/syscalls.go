package bitmap

import (
	"slices"
	"strconv"
)

//go:generate go run ../../internal/gen/syscalls -o zsyscalls.go

// Syscall is one entry of an ABI's syscall table.
type Syscall struct {
	Name string
	Nr   int
}

// Syscalls returns the ABI's syscall table sorted by number. The slice is
// shared: do not modify it. Unknown has no table.
func (a ABI) Syscalls() []Syscall {
	if !a.Known() {
		return nil
	}
	return tables[a]
}

// Lookup returns the numbers of the named syscall on the ABI, in increasing
// order, or nil if the ABI has no syscall of that name. Most names have one
// number; a few x32 names have two (a common one and an x32-only one past
// 511, e.g. execve 59 and 520).
func (a ABI) Lookup(name string) []int {
	var nrs []int
	for _, sc := range a.Syscalls() {
		if sc.Name == name {
			nrs = append(nrs, sc.Nr)
		}
	}
	return nrs
}

// Name returns the name of syscall number nr on the ABI, or nr in decimal
// when the ABI's table has no such number.
func (a ABI) Name(nr int) string {
	t := a.Syscalls()
	i, found := slices.BinarySearchFunc(t, nr, func(sc Syscall, nr int) int { return sc.Nr - nr })
	if found {
		return t[i].Name
	}
	return strconv.Itoa(nr)
}
