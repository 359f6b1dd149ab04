package stampcli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// request is what the command line asks of every FILE.
type request struct {
	deny, allow, profiles []string
	replace               bool
	output                string
	dryRun                bool
}

// resolver turns the request's lists into a restriction set per ABI,
// caching each ABI's result: many files of one ABI resolve once.
type resolver struct {
	req      request
	profiles []*profile.Profile
	byABI    map[bitmap.ABI]bitmap.Set
}

func newResolver(req request) (*resolver, error) {
	r := &resolver{req: req, byABI: map[bitmap.ABI]bitmap.Set{}}
	for _, name := range req.profiles {
		p, err := profile.ReadFile(name)
		if err != nil {
			return nil, usagef("--allow-profile %s: %w", name, err)
		}
		r.profiles = append(r.profiles, p)
	}
	return r, nil
}

// restrictions returns what the lists restrict on abi: the --deny syscalls,
// plus, with --allow or --allow-profile, everything the allowlist does not
// keep. A list that does not resolve is a usage error.
func (r *resolver) restrictions(abi bitmap.ABI) (bitmap.Set, error) {
	if s, ok := r.byABI[abi]; ok {
		return s, nil
	}
	s := bitmap.NewSet(abi)
	if len(r.req.deny) > 0 {
		d, err := bitmap.Parse(abi, r.req.deny...)
		if err != nil {
			return s, usagef("--deny: %w", err)
		}
		s = s.Union(d)
	}
	if len(r.req.allow) > 0 || len(r.profiles) > 0 {
		allowed := bitmap.NewSet(abi)
		if len(r.req.allow) > 0 {
			a, err := bitmap.ParseAllow(abi, r.req.allow...)
			if err != nil {
				return s, usagef("--allow: %w", err)
			}
			allowed = allowed.Union(a)
		}
		for i, p := range r.profiles {
			ps, err := p.Set(abi)
			if err != nil && !errors.Is(err, profile.ErrBeyond) {
				return s, usagef("--allow-profile %s: %w", r.req.profiles[i], err)
			}
			allowed = allowed.Union(ps)
		}
		s = s.Union(bitmap.Allowlist(allowed))
	}
	r.byABI[abi] = s
	return s, nil
}

// target is one FILE read and ready to be worked on.
type target struct {
	name   string
	f      *elfnote.File
	want   bitmap.Set // what the request restricts on f's ABI
	damage error      // the stamp was damaged by a later tool; stamping repairs it
}

// prepare reads every file and resolves the request for each one's ABI.
// Files that cannot be read are reported and left out; a request that does
// not resolve for any file is a usage error, returned before anything is
// written.
//
// With repair set, a file whose stamp was damaged by a later tool (strip,
// objcopy) is kept: stamping it again repairs it. --check and --show never
// repair: for them a damaged stamp is a failure.
func prepare(files []string, req request, repair bool, out *printer) ([]target, int, error) {
	res, err := newResolver(req)
	if err != nil {
		return nil, 0, err
	}
	var targets []target
	bad := 0
	for _, name := range files {
		f, err := elfnote.ReadFile(name)
		var damage error
		switch {
		case err == nil:
		case repair && f != nil && errors.Is(err, elfnote.ErrBadNote):
			damage = err // Stamp repairs it, or says why it cannot
		default:
			out.fail(name, err)
			bad++
			continue
		}
		want, err := res.restrictions(f.ABI)
		if err != nil {
			return nil, bad, fmt.Errorf("%s (%s): %w", name, f.ABI, err)
		}
		targets = append(targets, target{name: name, f: f, want: want, damage: damage})
	}
	return targets, bad, nil
}

func stamp(files []string, check bool, req request, out *printer) error {
	targets, bad, err := prepare(files, req, !check, out)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if check {
			if !out.check(t) {
				bad++
			}
			continue
		}
		// The union with the note already there is taken by Stamp, under
		// the file's lock, so that concurrent stamps never lose one.
		result, err := elfnote.Stamp(t.name, t.want, elfnote.Options{Replace: req.replace, Output: req.output, DryRun: req.dryRun})
		if err != nil {
			out.fail(t.name, err)
			bad++
			continue
		}
		if t.damage != nil && !req.dryRun {
			out.note(t.name, "repaired a stamp that a later tool had damaged ("+t.damage.Error()+")")
		}
		out.warn(t.name, bitmap.Warnings(result.After))
		out.stamped(t.name, result, req)
	}
	if bad > 0 {
		return failed{bad}
	}
	return nil
}

func remove(files []string, req request, out *printer) error {
	bad := 0
	for _, name := range files {
		result, err := elfnote.Remove(name, elfnote.Options{Output: req.output, DryRun: req.dryRun})
		if errors.Is(err, elfnote.ErrNoNote) {
			out.notStamped(name)
			continue
		}
		if err != nil {
			out.fail(name, err)
			bad++
			continue
		}
		out.removed(name, result, req)
	}
	if bad > 0 {
		return failed{bad}
	}
	return nil
}

func show(files []string, out *printer) error {
	bad := 0
	for _, name := range files {
		f, err := elfnote.ReadFile(name)
		if err != nil {
			out.fail(name, err)
			bad++
			continue
		}
		out.show(name, f)
	}
	if bad > 0 {
		return failed{bad}
	}
	return nil
}

// names lists the numbers of s as names of its ABI, at most limit of them
// (all if limit is 0).
func names(s bitmap.Set, limit int) string {
	list := nameList(s)
	if limit > 0 && len(list) > limit {
		list = append(list[:limit:limit], fmt.Sprintf("and %d more", len(list)-limit))
	}
	return strings.Join(list, ", ")
}

// nameList returns the numbers of s as names of its ABI, in number order.
func nameList(s bitmap.Set) []string {
	var list []string
	for nr := range s.All() {
		list = append(list, s.ABI().Name(nr))
	}
	return list
}
