package bitmap

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseError reports a LIST item that does not resolve. It wraps one of
// ErrUnknownName, ErrRange, ErrSyntax or ErrNoNames.
type ParseError struct {
	Item        string   // the item as written
	ABI         ABI      // the ABI it was resolved for
	Err         error    // the sentinel
	Detail      string   // what is wrong, for a person
	Suggestions []string // close known names, best first
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q: %s", e.Item, e.Detail)
	if len(e.Suggestions) > 0 {
		b.WriteString("; did you mean ")
		for i, s := range e.Suggestions {
			switch {
			case i == 0:
			case i == len(e.Suggestions)-1:
				b.WriteString(" or ")
			default:
				b.WriteString(", ")
			}
			b.WriteString(s)
		}
		b.WriteString("?")
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse resolves comma-separated LISTs (SPEC section 2) to the set of
// syscall numbers they name on abi. Items are a syscall name (execve), a
// number (59), an inclusive range (300-310) or a group (@debug); blanks
// around items are ignored. Every number must fit the bitmap: a number
// >= Size, or a name whose number on abi is >= Size (x32 execve is 520),
// is an error, because a deny list cannot restrict it by itself.
//
// On an ABI without a table (Unknown), only numbers and ranges resolve.
func Parse(abi ABI, lists ...string) (Set, error) {
	return parse(abi, false, lists)
}

// ParseAllow resolves LISTs like Parse for an allowlist: it returns the
// syscalls to allow. Names whose numbers lie past the bitmap are accepted,
// and only their numbers below Size are taken: an allowlist restricts every
// number from Size up anyway (DENY_BEYOND).
func ParseAllow(abi ABI, lists ...string) (Set, error) {
	return parse(abi, true, lists)
}

// Allowlist returns the restrictions of an allowlist: every number below
// Size that is neither in allowed nor in @default, and DENY_BEYOND.
func Allowlist(allowed Set) Set {
	keep := allowed
	if g, ok := LookupGroup("@default"); ok && allowed.abi.Known() {
		nrs, _ := g.Resolve(allowed.abi) // our own group: no unknown references
		for _, nr := range nrs {
			if nr < Size {
				keep.Add(nr)
			}
		}
	}
	r := keep.Complement()
	r.beyond = true
	return r
}

func parse(abi ABI, allow bool, lists []string) (Set, error) {
	s := NewSet(abi)
	items := 0
	for _, list := range lists {
		for item := range strings.SplitSeq(list, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			items++
			if err := s.addItem(item, allow); err != nil {
				return Set{}, err
			}
		}
	}
	if items == 0 {
		return Set{}, &ParseError{Item: strings.Join(lists, ","), ABI: abi, Err: ErrSyntax,
			Detail: "empty list: name at least one syscall, number, range or @group"}
	}
	return s, nil
}

func (s *Set) addItem(item string, allow bool) error {
	abi := s.abi
	perr := func(err error, format string, args ...any) *ParseError {
		return &ParseError{Item: item, ABI: abi, Err: err, Detail: fmt.Sprintf(format, args...)}
	}
	rangeHint := fmt.Sprintf("the bitmap covers 0..%d; numbers from %d up can be restricted only all together, by an allowlist (--allow), which sets DENY_BEYOND", Size-1, Size)

	// A number or a range of numbers.
	if c := item[0]; c >= '0' && c <= '9' {
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
		h, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 32)
		switch {
		case err1 != nil || err2 != nil:
			return perr(ErrSyntax, "not a number or a range N-M")
		case l > h:
			return perr(ErrSyntax, "backward range: %d is greater than %d", l, h)
		case h >= Size && !allow:
			return perr(ErrRange, "%d is out of range: %s", h, rangeHint)
		case h >= Size:
			return perr(ErrRange, "%d is out of range: the bitmap covers 0..%d, and an allowlist restricts every number from %d up", h, Size-1, Size)
		}
		for nr := int(l); nr <= int(h); nr++ {
			s.Add(nr)
		}
		return nil
	}

	if !abi.Known() {
		return perr(ErrNoNames, "names need a known ABI, and this binary's machine is not one (x86_64, x32, i386, aarch64, arm): restrict by number instead")
	}

	// A group.
	var nrs []int
	if strings.HasPrefix(item, "@") {
		g, ok := LookupGroup(item)
		if !ok {
			e := perr(ErrUnknownName, "no such group (sysrestrict-stamp --list-groups lists them)")
			e.Suggestions = closest(item, groupNames())
			return e
		}
		var err error
		if nrs, err = g.Resolve(abi); err != nil {
			return err
		}
	} else {
		if nrs = abi.Lookup(item); nrs == nil {
			e := perr(ErrUnknownName, "no syscall of that name on %s (sysrestrict-stamp --list-syscalls --arch %s lists them)", abi, abi)
			e.Suggestions = closest(item, syscallNames(abi))
			return e
		}
	}
	for _, nr := range nrs {
		switch {
		case nr < Size:
			s.Add(nr)
		case !allow && !strings.HasPrefix(item, "@"):
			return perr(ErrRange, "%s %s is number %d, past the bitmap: %s", abi, item, nr, rangeHint)
		case !allow:
			// A group member past the bitmap (x32, ARM private calls):
			// the same hole as a name would leave, so refuse the same way.
			return perr(ErrRange, "%s %s includes %s (number %d), past the bitmap: %s", abi, item, abi.Name(nr), nr, rangeHint)
		}
	}
	return nil
}

func groupNames() []string {
	var names []string
	for _, g := range Groups() {
		names = append(names, g.Name)
	}
	return names
}

func syscallNames(abi ABI) []string {
	var names []string
	for _, sc := range abi.Syscalls() {
		names = append(names, sc.Name)
	}
	return names
}

// Closest returns up to three of names nearest to s by edit distance
// (with transpositions, so exceve finds execve), nearest first: the
// suggestions of an unknown name. pkg/filter suggests errno names with it.
func Closest(s string, names []string) []string { return closest(s, names) }

// closest is Closest.
func closest(s string, names []string) []string {
	type cand struct {
		name string
		d    int
	}
	limit := max(1, len(s)/3)
	var cands []cand
	for _, n := range names {
		d := distance(s, n)
		if d <= limit || (len(s) >= 4 && strings.HasPrefix(n, s)) {
			cands = append(cands, cand{n, d})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.name, b.name))
	})
	cands = slices.CompactFunc(cands, func(a, b cand) bool { return a.name == b.name })
	var out []string
	for i := 0; i < len(cands) && i < 3; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
