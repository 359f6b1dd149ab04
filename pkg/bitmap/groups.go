package bitmap

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:generate go run ../../internal/gen/groups -i ../../internal/gen/groups/systemd-syscall-filter.txt -o zgroups.go

// Source says where a group's definition comes from.
type Source uint8

const (
	SourceSystemd     Source = iota + 1 // systemd-analyze syscall-filter, generated
	SourceSysrestrict                   // sysrestrict's own
)

// Group is a named set of syscalls, written @name in a LIST. Members are
// syscall names or other groups (@name); a member that an ABI lacks is
// skipped when the group is resolved for that ABI.
type Group struct {
	Name        string // with the leading @
	Description string
	Source      Source
	Members     []string
}

// ownGroups returns sysrestrict's groups. They come first in lookups: our
// @default replaces systemd's (SPEC section 2: systemd's @default minus
// execve and execveat, which stay governed by the list). It is built on
// first use, not at init: the loader starts on every exec and rarely needs
// a group.
var ownGroups = sync.OnceValue(func() []Group {
	// Derive @default from systemd's rather than copy it, so that
	// regenerating the systemd table carries it along.
	sd, ok := findGroup(systemdGroups, "@default")
	if !ok {
		panic("bitmap: systemd's @default is missing from zgroups.go")
	}
	def := slices.DeleteFunc(slices.Clone(sd.Members), func(m string) bool {
		return m == "execve" || m == "execveat"
	})
	return []Group{
		{
			Name:        "@default",
			Description: "Kept by every allowlist: systemd's @default without execve/execveat",
			Source:      SourceSysrestrict,
			Members:     def,
		},
		{
			Name:        "@exec",
			Description: "Program execution",
			Source:      SourceSysrestrict,
			Members:     []string{"execve", "execveat"},
		},
		{
			Name:        "@open",
			Description: "Opening and creating files by path",
			Source:      SourceSysrestrict,
			Members:     []string{"creat", "open", "openat", "openat2", "open_by_handle_at"},
		},
		{
			Name:        "@fork",
			Description: "Creating processes and threads",
			Source:      SourceSysrestrict,
			Members:     []string{"clone", "clone3", "fork", "vfork"},
		},
		{
			Name:        "@kill",
			Description: "Sending signals to other processes and threads",
			Source:      SourceSysrestrict,
			Members:     []string{"kill", "pidfd_send_signal", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tgkill", "tkill"},
		},
		{
			Name:        "@io-uring",
			Description: "io_uring, whose operations bypass per-syscall filters",
			Source:      SourceSysrestrict,
			Members:     []string{"io_uring_enter", "io_uring_register", "io_uring_setup"},
		},
	}
})

func findGroup(groups []Group, name string) (Group, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// Groups returns every group: sysrestrict's own first, then systemd's that
// ours do not replace, each in its table's order.
func Groups() []Group {
	all := slices.Clone(ownGroups())
	for _, g := range systemdGroups {
		if _, mine := findGroup(ownGroups(), g.Name); !mine {
			all = append(all, g)
		}
	}
	return all
}

// LookupGroup returns the group called name (with or without the @).
func LookupGroup(name string) (Group, bool) {
	if !strings.HasPrefix(name, "@") {
		name = "@" + name
	}
	if g, ok := findGroup(ownGroups(), name); ok {
		return g, true
	}
	return findGroup(systemdGroups, name)
}

// Resolve returns the numbers of every syscall in g on the ABI, following
// nested groups; members the ABI lacks are skipped. Nested references inside
// a systemd group mean systemd's groups (so @system-service keeps systemd's
// own @default, execve included), exactly as systemd resolves them.
// Numbers past the bitmap (x32 and ARM private syscalls) are returned too:
// the caller decides what they mean.
func (g Group) Resolve(abi ABI) ([]int, error) {
	if !abi.Known() {
		return nil, fmt.Errorf("%w: group %s on ABI %s", ErrNoNames, g.Name, abi)
	}
	var nrs []int
	seen := map[string]bool{}
	var walk func(g Group) error
	walk = func(g Group) error {
		if seen[g.Name] {
			return nil
		}
		seen[g.Name] = true
		for _, m := range g.Members {
			if !strings.HasPrefix(m, "@") {
				nrs = append(nrs, abi.Lookup(m)...)
				continue
			}
			table := ownGroups()
			if g.Source == SourceSystemd {
				table = systemdGroups
			}
			sub, ok := findGroup(table, m)
			if !ok {
				return fmt.Errorf("%w: group %s names unknown group %s", ErrUnknownName, g.Name, m)
			}
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(g); err != nil {
		return nil, err
	}
	slices.Sort(nrs)
	return slices.Compact(nrs), nil
}
