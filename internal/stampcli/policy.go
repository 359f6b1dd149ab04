package stampcli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sysrestrict/sysrestrict/internal/policy"
)

// perFile are the options a policy rule may give: those of one file's
// request, with whether each takes a value. Every other option applies to
// a whole run (-o, --remove, -j, --json, --policy, ...) and is refused in a
// rule, naming the file and line.
var perFile = map[string]bool{
	"deny":                    true,
	"allow":                   true,
	"allow-profile":           true,
	"profile-all-executables": false,
	"action":                  true,
	"permit":                  true,
	"replace":                 false,
	"narrow":                  false,
	"embed":                   false,
}

const perFileList = "--deny, --allow, --allow-profile, --profile-all-executables, --permit, --action, --replace, --narrow and --embed"

// errUncovered is a --strict failure: an executable ELF file under the
// root that no rule covers.
var errUncovered = errors.New("no rule covers this executable ELF file")

// errLeftover is a file under the root that a killed stamper left.
var errLeftover = errors.New("left by a sysrestrict-stamp that was killed while replacing a file")

// policyRun is what --policy FILE --root DIR makes of a run: a job for
// every target, in walk order, and the leftovers of killed stampers.
type policyRun struct {
	jobs      []job
	leftovers []string // paths under the root
}

// loadPolicy reads the policy file, parses each rule's options, resolves
// the rules over root and returns the jobs: every target, with the
// request of the rules that match it, and with strict every executable
// ELF file no rule covers, as a job that fails. Every error here is a
// usage error naming the policy file and line: no file has been touched.
func loadPolicy(name, root string, strict bool, flags []cli.Flag) (*policyRun, error) {
	p, err := policy.ReadFile(name)
	if err != nil {
		return nil, usageError{err: err, located: true}
	}
	parts := make([]*part, len(p.Rules))
	replace, narrow := make([]bool, len(p.Rules)), make([]bool, len(p.Rules))
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Skip {
			continue
		}
		if parts[i], replace[i], narrow[i], err = parseRule(p.Name, r, flags); err != nil {
			return nil, err
		}
		if err := parts[i].load(); err != nil {
			return nil, err
		}
	}
	tree, err := p.Resolve(root)
	if err != nil {
		return nil, usageError{err: err, located: true}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, usageError{err: err}
	}

	// Targets matched by the same rules share one request, so that each
	// is resolved once per ABI.
	index := map[*policy.Rule]int{}
	for i := range p.Rules {
		index[&p.Rules[i]] = i
	}
	requests := map[string]*request{}
	requestOf := func(t *policy.Target) *request {
		var key strings.Builder
		for _, r := range t.Rules {
			fmt.Fprintf(&key, "%d,", index[r])
		}
		if req, ok := requests[key.String()]; ok {
			return req
		}
		req := &request{}
		for _, r := range t.Rules {
			i := index[r]
			req.parts = append(req.parts, parts[i])
			req.replace = req.replace || replace[i]
			req.narrow = req.narrow || narrow[i]
		}
		requests[key.String()] = req
		return req
	}
	run := &policyRun{}
	for _, t := range tree.Files {
		switch {
		case len(t.Rules) > 0:
			j := job{name: t.Path, req: requestOf(t), real: filepath.Join(realRoot, filepath.FromSlash(t.Rel))}
			for _, l := range t.Links {
				j.links = append(j.links, filepath.Join(root, filepath.FromSlash(l)))
			}
			run.jobs = append(run.jobs, j)
		case strict && t.Executable && !t.Skip:
			run.jobs = append(run.jobs, job{name: t.Path, fail: &fs.PathError{Op: "check", Path: t.Path,
				Err: fmt.Errorf("%w (--strict): give it a rule in %s, or a skip rule", errUncovered, p.Name)}})
		}
	}
	for _, l := range tree.Leftovers {
		run.leftovers = append(run.leftovers, filepath.Join(root, filepath.FromSlash(l)))
	}
	return run, nil
}

// parseRule parses the options of a rule (not a skip rule) into a part of
// a request, and whether it says --replace and --narrow. Paths in them are
// relative to the policy file's directory.
func parseRule(name string, r *policy.Rule, flags []cli.Flag) (pt *part, replace, narrow bool, err error) {
	at := fmt.Sprintf("%s:%d", name, r.Line)
	fail := func(format string, args ...any) (*part, bool, bool, error) {
		return nil, false, false, locatedf("%s: %s", at, fmt.Sprintf(format, args...))
	}
	known := map[string]bool{}
	for _, f := range flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	pt = &part{origin: at}
	args := r.Args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			return fail("%q is not an option: a rule is a glob, then the stamper's options (a glob with blanks in it is quoted)", a)
		}
		opt, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		takesValue, ok := perFile[opt]
		switch {
		case !ok && (opt == "policy" || opt == "root" || opt == "strict"):
			return fail("%s is not for a policy file: give it on the command line", a)
		case !ok && known[opt]:
			return fail("%s applies to a whole run, not to one file: a rule takes %s", a, perFileList)
		case !ok:
			return fail("%s: unknown option (a rule takes %s)", a, perFileList)
		case takesValue && !hasValue:
			if i+1 == len(args) {
				return fail("%s needs a value", a)
			}
			i++
			value = args[i]
		case !takesValue && hasValue:
			return fail("--%s takes no value (%s)", opt, a)
		}
		switch opt {
		case "deny":
			pt.deny = append(pt.deny, value)
		case "allow":
			pt.allow = append(pt.allow, value)
		case "allow-profile":
			if !filepath.IsAbs(value) {
				value = filepath.Join(filepath.Dir(name), value)
			}
			pt.profiles = append(pt.profiles, value)
		case "action":
			pt.action = value // the last of a rule's, as on the command line
		case "permit":
			pt.permit = append(pt.permit, value)
		case "profile-all-executables":
			pt.allExecutables = true
		case "replace":
			replace = true
		case "narrow":
			narrow = true
		case "embed":
			pt.embed = true
		}
	}
	if pt.allExecutables && len(pt.profiles) == 0 {
		return fail("--profile-all-executables goes with --allow-profile in the same rule")
	}
	return pt, replace, narrow, nil
}

// leftoverResults returns a failed result for each of a killed stamper's
// leftovers that is still there after the run (a stamp of the file it was
// to replace removes it): a tree that holds one would ship it.
func leftoverResults(paths []string, m mode) []result {
	var rs []result
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			rs = append(rs, result{name: p, mode: m, err: fmt.Errorf("%w: if none is running, remove it", errLeftover)})
		}
	}
	return rs
}
