package stampcli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Actions in the stamper (docs/cli.md, "Actions"): --action gives the
// note's default, what every restricted syscall gets; an item of a
// --deny LIST may end in :ACTION, systemd's style (SystemCallFilter=
// ~clone3:ENOSYS), to give its syscalls their own: an errno name or
// number (the call fails with it), kill or log.

// item is one item of a --deny LIST with its action.
type item struct {
	name   string         // the item without its :ACTION
	action *filter.Action // nil: the default
}

// parseNoteAction parses an action a note records, as --action takes it:
// kill, errno[=NAME], log. where names where it was given, for the
// message ("--action errno=EPRM", "--deny clone3:trap").
func parseNoteAction(where, s string) (filter.Action, error) {
	a, err := filter.ParseAction(s)
	if err == nil && a == filter.Trap() {
		err = fmt.Errorf("%w: trap is an action of a run (sysrestrict-exec --action trap), not of a binary", filter.ErrAction)
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), filter.ErrAction.Error()+": ")
		if !strings.Contains(msg, "did you mean") {
			msg += "; a note records kill, errno[=NAME] (default ENOSYS) or log"
		}
		return filter.Action{}, fmt.Errorf("%s: %s", where, msg)
	}
	return a, nil
}

// parseSuffix parses the ACTION s of the --deny item whole (NAME:ACTION):
// an errno name (ENOSYS, eperm, EWOULDBLOCK) or number 1..4095, kill, log,
// or an action as --action takes it (errno, errno=EPERM).
func parseSuffix(whole, s string) (filter.Action, error) {
	switch strings.ToLower(s) {
	case "kill":
		return filter.Kill(), nil
	case "log":
		return filter.Log(), nil
	}
	if n, ok := filter.ErrnoNumber(s); ok {
		return filter.Errno(n), nil
	}
	if strings.HasPrefix(s, "errno") || strings.ToLower(s) == "trap" {
		return parseNoteAction("--deny "+whole, s)
	}
	// An errno name misspelt: filter's message suggests the closest.
	hint := ""
	if _, err := filter.ParseAction("errno=" + s); err != nil {
		if _, c, ok := strings.Cut(err.Error(), "; did you mean "); ok {
			hint = "; did you mean " + c
		}
	}
	return filter.Action{}, fmt.Errorf("--deny %s: %q is not an action: give an errno name (ENOSYS, EPERM, ...) or number 1..4095, kill or log%s", whole, s, hint)
}

// splitItems splits the LISTs of an option into items, each without its
// :ACTION, and returns the lists rebuilt without the actions (what
// bitmap.Parse resolves) and the items with their actions, in order. An
// action is a usage error for --allow: an allowlist's items are what it
// allows.
func splitItems(opt string, lists []string) (plain []string, items []item, err error) {
	for _, list := range lists {
		var names []string
		for raw := range strings.SplitSeq(list, ",") {
			raw = strings.TrimSpace(raw)
			name, act, hasAct := strings.Cut(raw, ":")
			name = strings.TrimSpace(name)
			names = append(names, name)
			if raw == "" {
				continue
			}
			it := item{name: name}
			if hasAct {
				if opt != "deny" {
					return nil, nil, fmt.Errorf("--%s %s: an --%s item is allowed, not restricted, and an action is what a restricted syscall gets; "+
						"give %s with --deny %s to restrict it with that action, or give the allowlist's other syscalls an action with --action", opt, raw, opt, name, raw)
				}
				a, err := parseSuffix(raw, strings.TrimSpace(act))
				if err != nil {
					return nil, nil, err
				}
				it.action = &a
			}
			items = append(items, it)
		}
		plain = append(plain, strings.Join(names, ","))
	}
	return plain, items, nil
}

// overrides returns what the items give their syscalls on abi: each
// item's action (an item without one, the default def) for every number
// it names, a later item over an earlier one; the numbers that get def
// are left out. Each item was resolved before, with the whole list, so
// it resolves here.
func overrides(abi bitmap.ABI, items []item, def filter.Action) (map[int]filter.Action, error) {
	var ov map[int]filter.Action
	for _, it := range items {
		s, err := bitmap.Parse(abi, it.name)
		if err != nil {
			return nil, err
		}
		a := def
		if it.action != nil {
			a = *it.action
		}
		for nr := range s.All() {
			if a == def {
				delete(ov, nr)
				continue
			}
			if ov == nil {
				ov = map[int]filter.Action{}
			}
			ov[nr] = a
		}
	}
	return ov, nil
}

// hasActions reports whether any item has an action of its own.
func hasActions(items []item) bool {
	for _, it := range items {
		if it.action != nil {
			return true
		}
	}
	return false
}

// errWeaker is a --check failure: the file gives a syscall (or its
// default) a weaker action than asked.
var errWeaker = errors.New("gives a weaker action than asked")

// strictness ranks actions as the kernel does: kill over errno over log.
func strictness(a filter.Action) int {
	switch a.Ret() & filter.SECCOMP_RET_ACTION_FULL {
	case filter.SECCOMP_RET_KILL_PROCESS:
		return 3
	case filter.SECCOMP_RET_ERRNO:
		return 2
	}
	return 1
}

// weaker lists where the file's actions give less than asked: its
// default weaker than the asked default, and each syscall of want the
// file restricts with a weaker action than asked. Two errnos are as
// strict as each other: the check asks for at least the action, not for
// the very errno.
func weaker(want bitmap.Set, asked elfnote.Actions, have bitmap.Set, got elfnote.Actions) []string {
	var out []string
	if strictness(got.Default) < strictness(asked.Default) {
		out = append(out, fmt.Sprintf("default %s (asked %s)", got.Default.Name(), asked.Default.Name()))
	}
	for nr := range want.All() {
		if !have.Has(nr) {
			continue // missing, said apart
		}
		if g, a := got.For(nr), asked.For(nr); strictness(g) < strictness(a) {
			out = append(out, fmt.Sprintf("%s %s (asked %s)", want.ABI().Name(nr), g.Name(), a.Name()))
		}
	}
	return out
}

// notTaken lists the syscalls (and the default) that a stamp without
// --replace asked an action for and that kept a stricter one the note
// had: an action is only loosened with --replace.
func notTaken(want bitmap.Set, asked, after elfnote.Actions) []string {
	var out []string
	if after.Default != asked.Default {
		out = append(out, fmt.Sprintf("the default stays %s (asked %s)", after.Default.Name(), asked.Default.Name()))
	}
	for nr := range want.All() {
		if a, g := asked.For(nr), after.For(nr); a != g && strictness(g) > strictness(a) {
			out = append(out, fmt.Sprintf("%s stays %s (asked %s)", want.ABI().Name(nr), g.Name(), a.Name()))
		}
	}
	return out
}
