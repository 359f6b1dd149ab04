package stampcli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/identity"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// request is what is asked of one FILE: the restrictions to add and how.
// Every FILE of a command line shares one, made of one part; with a
// policy file (SPEC section 6) every target has the request of the rules
// that match it, a part for each rule, and targets matched by the same
// rules share one.
type request struct {
	parts   []*part
	replace bool
	narrow  bool // --narrow: an allowlist on top of an allowlist may restrict what that one allows

	mu     sync.Mutex
	byFile map[target]resolved // restrictions, resolved once per ABI (and executable, see needsTarget)
}

// target is what a request's restrictions depend on: the file's ABI, and
// when profiles are taken for the file alone, which executable it is.
type target struct {
	abi bitmap.ABI
	id  profile.ID
}

// resolved is a request resolved for one ABI: what it restricts, and with
// which actions.
type resolved struct {
	set       bitmap.Set // the restrictions to add: denied ∪ the allowlist's, less permit
	actions   elfnote.Actions
	denied    bitmap.Set // what --deny named
	allowlist bitmap.Set // with an --allow or --allow-profile, what that allowlist restricts, less permit; else empty
	permit    bitmap.Set // what --permit names: lifted from the note
	origin    string     // the policy rule of the first --allow or --allow-profile ("" on the command line)
}

// part is LISTs given together: on the command line, or on one line of a
// policy file. Each resolves on its own, so that an error can name where
// the LIST was written.
type part struct {
	origin                        string // "FILE:LINE" of a policy rule; "" for the command line
	deny, allow, profiles, permit []string
	embed                         bool               // --embed
	allExecutables                bool               // --profile-all-executables: every executable's syscalls, not only the file's
	action                        string             // --action as given; "" for none
	loaded                        []*profile.Profile // the --allow-profile files, read by load

	// What load made of the lists and --action: the LISTs without the
	// items' :ACTION, the --deny items with theirs, the default.
	denyPlain, allowPlain []string
	items                 []item
	def                   *filter.Action // nil: no --action
}

func (r *request) hasLists() bool {
	for _, p := range r.parts {
		if len(p.deny)+len(p.allow)+len(p.profiles)+len(p.permit) > 0 {
			return true
		}
	}
	return false
}

// embedded reports whether a part of the request says --embed: the stamp
// is self-enforcing, and --check wants the file embedded.
func (r *request) embedded() bool {
	for _, p := range r.parts {
		if p.embed {
			return true
		}
	}
	return false
}

// needsTarget says whether the restrictions depend on which executable
// a file is: some profile is taken for the file alone.
func (r *request) needsTarget() bool {
	for _, p := range r.parts {
		if len(p.profiles) > 0 && !p.allExecutables {
			return true
		}
	}
	return false
}

// identify returns the profile identity of the file name for
// --allow-profile: its build ID, or its absolute path (every symlink
// resolved, as /proc/PID/exe gives it) and its size before stamping.
func identify(name string) (profile.ID, error) {
	path, err := filepath.EvalSymlinks(name)
	if err == nil {
		path, err = filepath.Abs(path)
	}
	if err != nil {
		return profile.ID{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return profile.ID{}, err
	}
	defer f.Close()
	return identity.Of(f, path)
}

// permitOnly reports whether the request only lifts (--permit, and no
// --deny, --allow, --allow-profile, --replace, --embed or --action).
func (r *request) permitOnly() bool {
	if r.replace || r.embedded() || r.hasAction() {
		return false
	}
	for _, p := range r.parts {
		if len(p.deny)+len(p.allow)+len(p.profiles) > 0 {
			return false
		}
	}
	return true
}

// hasAction reports whether a part gives --action.
func (r *request) hasAction() bool {
	for _, p := range r.parts {
		if p.action != "" {
			return true
		}
	}
	return false
}

// load checks the part's actions and reads its profiles. An action that
// does not parse and a profile that cannot be read are usage errors: no
// file has been touched yet.
func (p *part) load() error {
	var err error
	if p.denyPlain, p.items, err = splitItems("deny", p.deny); err != nil {
		return p.usagef("%w", err)
	}
	if p.allowPlain, _, err = splitItems("allow", p.allow); err != nil {
		return p.usagef("%w", err)
	}
	if p.action != "" {
		a, err := parseNoteAction("--action "+p.action, p.action)
		if err != nil {
			return p.usagef("%w", err)
		}
		p.def = &a
	}
	for _, name := range p.profiles {
		pr, err := profile.ReadFile(name)
		if err != nil {
			return p.usagef("--allow-profile %s: %w", name, err)
		}
		p.loaded = append(p.loaded, pr)
	}
	return nil
}

// usagef is a usage error about the part, naming its policy line.
func (p *part) usagef(format string, args ...any) error {
	if p.origin != "" {
		return locatedf(p.origin+": "+format, args...)
	}
	return usagef(format, args...)
}

// restrictions returns what the request restricts on abi: the --deny
// syscalls, plus, with --allow or --allow-profile, everything the allowlist
// does not keep, less what --permit names; and the actions: the default
// (the last --action, else kill), and what the --deny items' :ACTION gives
// their syscalls. The parts combine as repeated options do: denied
// syscalls are joined, and so are allowed and permitted ones, and of two
// actions for one syscall the later item's wins. A syscall both denied and
// permitted is a usage error, and so is a list that does not resolve:
// errOf says for which file. A profile gives the syscalls of the
// executable id and of what ran under it (profile.For), or with
// --profile-all-executables of every executable it records; one with
// nothing for id is a usage error too. Each result is computed once per
// ABI (and id, when needsTarget), however many files share it, and jobs
// may ask concurrently.
func (r *request) restrictions(abi bitmap.ABI, id profile.ID, errOf func(origin string, err error) error) (resolved, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.needsTarget() {
		id = profile.ID{}
	}
	if res, ok := r.byFile[target{abi, id}]; ok {
		return res, nil
	}
	res := resolved{denied: bitmap.NewSet(abi), allowlist: bitmap.NewSet(abi), permit: bitmap.NewSet(abi)}
	allowed, allowlist := bitmap.NewSet(abi), false
	def := filter.Kill()
	var items []item
	denies, permits := make([]bitmap.Set, len(r.parts)), make([]bitmap.Set, len(r.parts))
	for i, p := range r.parts {
		denies[i], permits[i] = bitmap.NewSet(abi), bitmap.NewSet(abi)
		var err error
		if len(p.deny) > 0 {
			if denies[i], err = bitmap.Parse(abi, p.denyPlain...); err != nil {
				return resolved{}, errOf(p.origin, fmt.Errorf("--deny: %w", err))
			}
			res.denied = res.denied.Union(denies[i])
			items = append(items, p.items...)
		}
		if len(p.permit) > 0 {
			if permits[i], err = bitmap.Parse(abi, p.permit...); err != nil {
				return resolved{}, errOf(p.origin, fmt.Errorf("--permit: %w", err))
			}
			res.permit = res.permit.Union(permits[i])
		}
		if len(p.allow) > 0 {
			a, err := bitmap.ParseAllow(abi, p.allowPlain...)
			if err != nil {
				return resolved{}, errOf(p.origin, fmt.Errorf("--allow: %w", err))
			}
			allowed = allowed.Union(a)
		}
		for j, pr := range p.loaded {
			if !p.allExecutables {
				var err error
				if pr, err = pr.For(id); err != nil {
					return resolved{}, errOf(p.origin, fmt.Errorf("--allow-profile %s: %w; learn this file's own runs into it (sysrestrict-exec --learn %s PROGRAM ...), or take the syscalls of every executable it records with --profile-all-executables",
						p.profiles[j], err, p.profiles[j]))
				}
			}
			ps, err := pr.Set(abi)
			if err != nil && !errors.Is(err, profile.ErrBeyond) {
				return resolved{}, errOf(p.origin, fmt.Errorf("--allow-profile %s: %w", p.profiles[j], err))
			}
			allowed = allowed.Union(ps)
		}
		if len(p.allow)+len(p.profiles) > 0 && !allowlist {
			allowlist, res.origin = true, p.origin
		}
		if p.def != nil {
			def = *p.def
		}
	}
	for i, p := range r.parts {
		for j, q := range r.parts {
			if both := permits[i].Intersect(denies[j]); !both.IsEmpty() {
				where := ""
				if q.origin != p.origin {
					where = " (" + q.origin + ")"
				}
				return resolved{}, errOf(p.origin, fmt.Errorf("--permit %s and --deny%s name the same syscalls: say which you mean", names(both, 0), where))
			}
		}
	}
	if allowlist {
		res.allowlist = bitmap.Allowlist(allowed).Difference(res.permit)
	}
	res.set = res.denied.Union(res.allowlist)
	res.actions = elfnote.Actions{Default: def}
	if hasActions(items) {
		ov, err := overrides(abi, items, def)
		if err != nil {
			return resolved{}, errOf("", fmt.Errorf("--deny: %w", err))
		}
		res.actions.Overrides = ov
	}
	if r.byFile == nil {
		r.byFile = map[target]resolved{}
	}
	r.byFile[target{abi, id}] = res
	return res, nil
}

// narrowing is the check, before any file is written, that an allowlist
// stamped on top of the allowlist a file carries does not restrict, unasked,
// syscalls that one allows: restrictions only accumulate, so the result
// allows only what both allow, and a binary that dies at its first read
// is not what anyone stamping --allow-profile again has in mind. --narrow
// says it is; --replace stamps the new allowlist instead; --permit adds to
// the one there.
func (st *staged) narrowing() error {
	res, f := st.res, st.f
	if st.req.replace || st.req.narrow || res.allowlist.IsEmpty() || !f.Stamped || !f.Set.DenyBeyond() {
		return nil
	}
	before := f.Set.WithABI(f.ABI)
	newly := res.allowlist.Difference(before).Difference(res.denied)
	if newly.IsEmpty() {
		return nil
	}
	err := fmt.Errorf("%s: carries an allowlist (it allows %d syscalls), and an allowlist stamped on top of one intersects the two: "+
		"the result allows only what both allow. This one would newly restrict %d that it allows now: %s. "+
		"To allow more syscalls: --permit LIST; to stamp this allowlist in its place: --replace; to narrow it so: --narrow",
		st.name, before.Complement().Len(), newly.Len(), names(newly, 12))
	if res.origin != "" {
		return locatedf("%s: %w", res.origin, err)
	}
	return usageError{err: err}
}

// job is one FILE and what is asked of it.
type job struct {
	name string
	req  *request

	// With --policy: the file's other names under the root (hard
	// links), which go on naming it, and where the walk found it, every
	// symlink resolved: a write checks that its name still leads there,
	// and never changes a name outside the root
	// (elfnote.Options.KeepOtherNames).
	links []string
	real  string

	fail error // the job fails with this, the file untouched (--strict)
}

// staged is a job after its first phase: its file read and its request
// resolved, or already finished (done) because the file cannot be read.
type staged struct {
	job
	f      *elfnote.File
	res    resolved        // the request on f's ABI
	want   bitmap.Set      // what the request restricts on f's ABI
	acts   elfnote.Actions // with which actions
	damage error           // the stamp was damaged by a later tool; stamping repairs it
	id     fileID          // jobs with one id run one after another, in FILE order
	done   *result
}

// prepare is a job's first phase: read the file and resolve the request
// for its ABI. The error is a usage error only (a LIST or profile that
// does not resolve for this file): then no file may be touched. A file
// that cannot be read ends the job here, with a result.
//
// Stamping keeps a file whose stamp was damaged by a later tool (strip,
// objcopy): stamping it again repairs it. --check and --show never repair:
// for them a damaged stamp is a failure.
func (s *settings) prepare(j job, index int) (staged, error) {
	st := staged{job: j, id: idOf(j.name, index)}
	if j.fail != nil {
		st.done = &result{name: j.name, mode: s.mode, err: j.fail}
		return st, nil
	}
	if s.mode == modeRemove {
		return st, nil // elfnote.Remove reads the file under its lock
	}
	f, err := elfnote.ReadFile(j.name)
	switch {
	case err == nil:
	case s.mode == modeStamp && f != nil && errors.Is(err, elfnote.ErrBadNote):
		st.damage = err // Stamp repairs it, or says why it cannot
	default:
		st.done = &result{name: j.name, mode: s.mode, err: err}
		return st, nil
	}
	st.f = f
	if s.mode == modeShow {
		return st, nil
	}
	var id profile.ID
	if j.req.needsTarget() {
		if id, err = identify(j.name); err != nil {
			st.done = &result{name: j.name, mode: s.mode, err: err}
			return st, nil
		}
	}
	res, err := j.req.restrictions(f.ABI, id, func(origin string, err error) error {
		if origin != "" {
			return locatedf("%s: %s (%s): %w", origin, j.name, f.ABI, err)
		}
		return usagef("%s (%s): %w", j.name, f.ABI, err)
	})
	st.res, st.want, st.acts = res, res.set, res.actions
	if err == nil && !j.req.hasLists() && j.req.hasAction() {
		// --action alone: the note's syscalls, with that action.
		if !f.Stamped && s.mode == modeStamp {
			st.done = &result{name: j.name, mode: s.mode, err: &fs.PathError{Op: "stamp", Path: j.name, Err: errActionAlone}}
			return st, nil
		}
		st.want = f.Set.WithABI(f.ABI)
	}
	if err == nil && s.mode == modeStamp {
		err = st.narrowing()
	}
	return st, err
}

// errActionAlone: --action without a LIST on a file without a note.
var errActionAlone = errors.New("not stamped: --action alone gives the note's syscalls an action; give --deny, --allow or --allow-profile to restrict some")

// finish is a job's second phase: do what the mode says to the file and
// say how it went.
func (s *settings) finish(st staged) result {
	if st.done != nil {
		return *st.done
	}
	r := result{name: st.name, mode: s.mode, file: st.f}
	switch s.mode {
	case modeShow:
	case modeCheck:
		have := st.f.Set.WithABI(st.f.ABI)
		r.missing = st.want.Difference(have)
		r.wantEmbed = st.req.embedded()
		if st.req.hasLists() || st.req.hasAction() {
			r.weaker = weaker(st.want, st.acts, have, st.f.Actions)
		}
	case modeRemove:
		res, err := elfnote.Remove(st.name, elfnote.Options{Output: s.output, DryRun: s.dryRun, ModTime: s.modTime, DirSynced: s.dirSynced()})
		switch {
		case errors.Is(err, elfnote.ErrNoNote):
			r.noNote = true
		case err != nil:
			r.err = err
		}
		r.res = res
	case modeStamp:
		// The union with the note already there is taken by Stamp, under
		// the file's lock, so that concurrent stamps never lose one.
		if err := st.stillInTree(); err != nil {
			r.err = err
			return r
		}
		if st.req.permitOnly() && !st.f.Stamped && st.damage == nil {
			r.noNote = true // nothing to lift; no note is added for it
			return r
		}
		res, err := elfnote.Stamp(st.name, st.want, elfnote.Options{Replace: st.req.replace, Lift: st.res.permit, Embed: st.req.embedded(), Actions: st.acts, Output: s.output, DryRun: s.dryRun, ModTime: s.modTime,
			Links: st.links, KeepOtherNames: st.real != "", DirSynced: s.dirSynced()})
		if err != nil {
			r.err = err
			return r
		}
		r.links = st.links
		r.res, r.repaired = res, st.damage
		r.warnings = warnings(res, st.res.denied, st.req.replace)
		r.unallowed = unallowed(res, st.res, st.req.replace)
		if !st.req.replace {
			r.notTaken = notTaken(st.want, st.acts, res.AfterActions)
		}
	}
	return r
}

// warnings returns the warnings about a stamp's result: of a deny list,
// every restriction was asked for by name; of an allowlist, what --deny
// named and what a deny list stamped before restricted (not what the
// allowlist leaves out: bitmap.WarningsFor).
func warnings(res *elfnote.Result, denied bitmap.Set, replace bool) []bitmap.Warning {
	after := res.After
	if !after.DenyBeyond() {
		return bitmap.Warnings(after)
	}
	asked := denied.WithABI(after.ABI())
	if !replace && !res.Before.DenyBeyond() {
		asked = asked.Union(res.Before)
	}
	return bitmap.WarningsFor(after, asked.Intersect(after))
}

// unallowed returns what the allowlist asked for allows and the result
// still restricts, because the binary's allowlist restricts it and
// restrictions only accumulate: an allowlist on top of one cannot allow
// more (--permit does).
func unallowed(res *elfnote.Result, rs resolved, replace bool) bitmap.Set {
	if replace || rs.allowlist.IsEmpty() || !res.Before.DenyBeyond() {
		return bitmap.Set{}
	}
	asked := rs.allowlist.Complement().Difference(rs.denied).WithABI(res.After.ABI())
	asked.SetDenyBeyond(false)
	return asked.Intersect(res.After)
}

// errLeftTree is a target of a policy run whose name no longer leads to
// the file the walk found under the root.
var errLeftTree = errors.New("replaced since the walk by a symlink, or under a symlinked directory: not stamped (is another program changing the tree?)")

// stillInTree checks, for a job of a policy run, that its name is still a
// regular file where the walk found it, no symlink on the way: stamping
// follows symlinks, and a tree changed under a run must not make it write
// outside its root.
func (j *job) stillInTree() error {
	if j.real == "" {
		return nil
	}
	fi, err := os.Lstat(j.name)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(j.name); err != nil || real != j.real || !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "stamp", Path: j.name, Err: errLeftTree}
	}
	return nil
}

// run runs every job in its two phases on up to s.workers goroutines and
// hands each result to emit, in FILE order, as soon as it and every
// result before it are done. emit runs on the caller's goroutine only, as
// does meter, which shows how far the run is (nil: nothing shown) and is
// hidden before each emit.
//
// Phase one runs for every job before phase two starts, so that a usage
// error stops the run before any file is written; run returns the first
// (in FILE order). In phase two the jobs on one file run one after
// another in FILE order: with the same file named twice, or a link and its
// target, what each reports is the same for every number of workers.
func (s *settings) run(jobs []job, emit func(result), meter *progress) error {
	var tick <-chan time.Time
	if meter != nil {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		tick = t.C
	}
	stage := make([]staged, len(jobs))
	errs := make([]error, len(jobs))
	prepared := make(chan struct{}, len(jobs))
	go parallel(len(jobs), s.workers, func(i int) {
		stage[i], errs[i] = s.prepare(jobs[i], i)
		prepared <- struct{}{}
	})
	for n := 0; n < len(jobs); {
		select {
		case <-prepared:
			n++
			meter.update("reading", n, len(jobs))
		case <-tick:
			meter.update("reading", n, len(jobs))
		}
	}
	for _, err := range errs {
		if err != nil {
			meter.hide()
			return err
		}
	}

	// Chains of jobs on one file, in FILE order of their first job.
	var chains [][]int
	chainOf := map[fileID]int{}
	for i, st := range stage {
		c, ok := chainOf[st.id]
		if !ok {
			c = len(chains)
			chainOf[st.id] = c
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], i)
	}

	results := make([]result, len(jobs))
	done := make(chan int, len(jobs))
	go parallel(len(chains), s.workers, func(c int) {
		for _, i := range chains[c] {
			results[i] = s.finish(stage[i])
			done <- i
		}
	})
	verb := map[mode]string{modeStamp: "stamping", modeRemove: "removing", modeShow: "reading", modeCheck: "checking"}[s.mode]
	ready := make([]bool, len(jobs))
	next := 0
	for n := 0; n < len(jobs); {
		select {
		case i := <-done:
			n++
			ready[i] = true
			if ready[next] {
				meter.hide()
			}
			for next < len(jobs) && ready[next] {
				emit(results[next])
				next++
			}
			meter.update(verb, n, len(jobs))
		case <-tick:
			meter.update(verb, n, len(jobs))
		}
	}
	meter.hide()
	s.dirs.sync(s.workers)
	return nil
}

// dirSynced is elfnote.Options.DirSynced for the run.
func (s *settings) dirSynced() func(string) {
	if s.dirs == nil {
		return nil
	}
	return s.dirs.add
}

// dirSet is the directories a run renamed files in. Each is fsynced once,
// at the end of the run, rather than after each rename
// (elfnote.Options.DirSynced): a directory of a thousand files costs one
// fsync, not a thousand. A nil *dirSet leaves each to elfnote.
type dirSet struct {
	mu sync.Mutex
	m  map[string]bool
}

// add is elfnote.Options.DirSynced; jobs call it concurrently.
func (d *dirSet) add(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]bool{}
	}
	d.m[dir] = true
}

// sync fsyncs every directory added, on up to workers goroutines.
func (d *dirSet) sync(workers int) {
	if d == nil {
		return
	}
	dirs := slices.Sorted(maps.Keys(d.m))
	parallel(len(dirs), workers, func(i int) { elfnote.SyncDir(dirs[i]) })
}

// parallel calls fn(i) for every i in [0, n) on up to workers goroutines
// and returns when every call has returned. With one worker the calls are
// made in order.
func parallel(n, workers int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
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
