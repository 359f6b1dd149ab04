package elfnote

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// The NT_SYSRESTRICT_ACTION note (type 5) says what the restricted
// syscalls get: a default action and per-syscall overrides, read by the
// loader and compiled into an embedded start-up stub's filter alike
// (docs/note-format.md). It is written only when some restricted syscall
// gets anything but kill: a stamp without actions is byte for byte what it
// was before the note type existed.
const (
	actionVersion   = 1
	actionHeadSize  = 12 // version, default, count
	actionEntrySize = 8  // nr, action
	maxOverrides    = bitmap.Size
)

// Actions is what the restricted syscalls of a note get: Default, unless
// Overrides names the syscall. The zero value is kill for every one, and
// is what a note without an NT_SYSRESTRICT_ACTION note says.
//
// A note records kill (SECCOMP_RET_KILL_PROCESS), errno (1..4095) and log
// only: filter.Trap and filter.Trace are actions of a run
// (sysrestrict-exec --action trap, the --explain supervisor), not of a
// binary.
type Actions struct {
	// Default is what a restricted syscall gets, and everything else the
	// filter gives its action: a syscall of another ABI, x32's bit on
	// x86_64, a number from 512 up with DENY_BEYOND (docs/filter.md).
	Default filter.Action

	// Overrides maps syscall numbers of the note's ABI, each restricted
	// by the note's bitmap, to their own action. A File's never holds
	// the default.
	Overrides map[int]filter.Action
}

// Kill reports whether every restricted syscall is killed: the default
// is kill and no override says otherwise. Such a note carries no
// NT_SYSRESTRICT_ACTION note.
func (a Actions) Kill() bool {
	if a.Default != filter.Kill() {
		return false
	}
	for _, o := range a.Overrides {
		if o != filter.Kill() {
			return false
		}
	}
	return true
}

// For returns the action of syscall nr, if the note restricts it.
func (a Actions) For(nr int) filter.Action {
	if o, ok := a.Overrides[nr]; ok {
		return o
	}
	return a.Default
}

// Options returns the filter options that enforce a: its default as
// Options.Action and its overrides. The loader and the start-up stub's
// filter build from them.
func (a Actions) Options() filter.Options {
	return filter.Options{Action: a.Default, Overrides: a.Overrides}
}

// Equal reports whether a and b give every syscall the same action.
func (a Actions) Equal(b Actions) bool {
	if a.Default != b.Default {
		return false
	}
	for nr, o := range a.Overrides {
		if o != a.Default && b.For(nr) != o {
			return false
		}
	}
	for nr, o := range b.Overrides {
		if o != b.Default && a.For(nr) != o {
			return false
		}
	}
	return true
}

// Describe returns a as a person reads it, syscalls by abi's names:
// "kill", "kill; clone3: errno=ENOSYS, execve: log".
func (a Actions) Describe(abi bitmap.ABI) string {
	var b strings.Builder
	b.WriteString(a.Default.Name())
	for i, nr := range slices.Sorted(maps.Keys(a.Overrides)) {
		if i == 0 {
			b.WriteString("; ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(abi.Name(nr) + ": " + a.Overrides[nr].Name())
	}
	return b.String()
}

// canonical checks that a can be recorded for set (every action kill,
// errno or log, every override restricted by set) and returns it in the
// note's canonical form: no override equal to the default, nil without
// overrides.
func (a Actions) canonical(set bitmap.Set) (Actions, error) {
	if err := recordable(a.Default); err != nil {
		return Actions{}, fmt.Errorf("default action: %w", err)
	}
	var ov map[int]filter.Action
	for _, nr := range slices.Sorted(maps.Keys(a.Overrides)) {
		o := a.Overrides[nr]
		if nr < 0 || nr >= bitmap.Size || !set.Has(nr) {
			return Actions{}, fmt.Errorf("%w: %s (%d) is not restricted: an action applies to a restricted syscall only", filter.ErrOverride, set.ABI().Name(nr), nr)
		}
		if err := recordable(o); err != nil {
			return Actions{}, fmt.Errorf("action of %s (%d): %w", set.ABI().Name(nr), nr, err)
		}
		if o == a.Default {
			continue
		}
		if ov == nil {
			ov = map[int]filter.Action{}
		}
		ov[nr] = o
	}
	return Actions{Default: a.Default, Overrides: ov}, nil
}

// recordable fails for an action a note cannot record.
func recordable(a filter.Action) error {
	_, err := decodeAction(a.Ret())
	if err != nil {
		return fmt.Errorf("%w: %s: a note records kill, errno=1..4095 or log", filter.ErrAction, a)
	}
	return nil
}

// strictness ranks the actions a note records, as the kernel ranks them
// (kernel/seccomp.c: KILL_PROCESS before ERRNO before LOG).
func strictness(a filter.Action) int {
	switch a.Ret() & filter.SECCOMP_RET_ACTION_FULL {
	case filter.SECCOMP_RET_KILL_PROCESS:
		return 3
	case filter.SECCOMP_RET_ERRNO:
		return 2
	}
	return 1
}

// stricter returns the stricter of the action a note had and the one a
// stamp asks for: kill over errno over log; of two errnos, the new one.
func stricter(had, asked filter.Action) filter.Action {
	if strictness(had) > strictness(asked) {
		return had
	}
	return asked
}

// accumulate returns the actions of a stamp without Replace on a note
// that carries set had with actions old: the stamp asks for the set ask
// with actions a, and the note gets had ∪ ask. Per syscall the stricter
// action wins (stricter), and so for the default, which also decides what
// the bitmap does not; loosening one needs Replace. The result is
// canonical for had ∪ ask.
func accumulate(had bitmap.Set, old Actions, ask bitmap.Set, a Actions) (Actions, error) {
	a, err := a.canonical(ask)
	if err != nil {
		return Actions{}, err
	}
	ask = ask.WithABI(had.ABI())
	out := Actions{Default: stricter(old.Default, a.Default)}
	for nr := range had.Union(ask).All() {
		var got filter.Action
		switch inHad, inAsk := had.Has(nr), ask.Has(nr); {
		case inHad && inAsk:
			got = stricter(old.For(nr), a.For(nr))
		case inHad:
			got = old.For(nr)
		default:
			got = a.For(nr)
		}
		if got != out.Default {
			if out.Overrides == nil {
				out.Overrides = map[int]filter.Action{}
			}
			out.Overrides[nr] = got
		}
	}
	return out, nil
}

// encodeActions returns the NT_SYSRESTRICT_ACTION descriptor of a
// canonical a, in byte order bo; nil when every restricted syscall is
// killed (no note is written then).
func encodeActions(bo binary.ByteOrder, a Actions) []byte {
	if a.Kill() {
		return nil
	}
	nrs := slices.Sorted(maps.Keys(a.Overrides))
	b := make([]byte, actionHeadSize+actionEntrySize*len(nrs))
	bo.PutUint32(b[0:], actionVersion)
	bo.PutUint32(b[4:], a.Default.Ret())
	bo.PutUint32(b[8:], uint32(len(nrs)))
	for i, nr := range nrs {
		e := b[actionHeadSize+actionEntrySize*i:]
		bo.PutUint32(e[0:], uint32(nr))
		bo.PutUint32(e[4:], a.Overrides[nr].Ret())
	}
	return b
}

// decodeAction returns the action a note records as the seccomp return
// value k.
func decodeAction(k uint32) (filter.Action, error) {
	switch {
	case k == filter.SECCOMP_RET_KILL_PROCESS:
		return filter.Kill(), nil
	case k == filter.SECCOMP_RET_LOG:
		return filter.Log(), nil
	case k&filter.SECCOMP_RET_ACTION_FULL == filter.SECCOMP_RET_ERRNO && k&filter.SECCOMP_RET_DATA >= 1 && k&filter.SECCOMP_RET_DATA <= 4095:
		return filter.Errno(int(k & filter.SECCOMP_RET_DATA)), nil
	}
	return filter.Action{}, fmt.Errorf("%#x is not kill (%#x), errno (%#x | 1..4095) or log (%#x)", k,
		uint32(filter.SECCOMP_RET_KILL_PROCESS), uint32(filter.SECCOMP_RET_ERRNO), uint32(filter.SECCOMP_RET_LOG))
}

// decodeActions reads the NT_SYSRESTRICT_ACTION descriptor desc, at file
// offset off, of a note whose bitmap is set. It is hostile input: the
// reader refuses (ErrBadAction, at the offset of the field) everything
// but the canonical form the stamper writes (docs/note-format.md): a
// descriptor shorter than its header or not exactly as long as its count
// says, a version other than 1, an action that is not kill, errno 1..4095
// or log, more than 512 overrides, numbers not strictly ascending or not
// below 512, an override of a syscall the bitmap does not restrict or
// that repeats the default, and a note that says only "kill", which the
// stamper never writes.
func decodeActions(desc []byte, off int64, bo binary.ByteOrder, set bitmap.Set) (Actions, error) {
	bad := func(at int, format string, args ...any) (Actions, error) {
		return Actions{}, &FormatError{Off: off + int64(at), Msg: fmt.Sprintf(format, args...), Err: ErrBadAction}
	}
	if len(desc) < actionHeadSize {
		return bad(0, "%d bytes, shorter than its %d-byte header", len(desc), actionHeadSize)
	}
	if v := bo.Uint32(desc); v != actionVersion {
		return bad(0, "version %d (this sysrestrict knows %d); a newer sysrestrict stamped this file", v, actionVersion)
	}
	def, err := decodeAction(bo.Uint32(desc[4:]))
	if err != nil {
		return bad(4, "default action %v", err)
	}
	n := bo.Uint32(desc[8:])
	if n > maxOverrides {
		return bad(8, "%d overrides, more than the %d syscall numbers of the bitmap", n, maxOverrides)
	}
	if want := actionHeadSize + actionEntrySize*int(n); len(desc) != want {
		return bad(8, "%d bytes for %d overrides, want %d", len(desc), n, want)
	}
	if n == 0 && def == filter.Kill() {
		return bad(4, "says only that every restricted syscall is killed, which is what no NT_SYSRESTRICT_ACTION note says (not canonical)")
	}
	a := Actions{Default: def}
	prev := -1
	for i := range int(n) {
		at := actionHeadSize + actionEntrySize*i
		nr := bo.Uint32(desc[at:])
		switch {
		case nr >= bitmap.Size:
			return bad(at, "override %d: syscall number %d, not below %d", i, nr, bitmap.Size)
		case int(nr) <= prev:
			return bad(at, "override %d: syscall number %d after %d: not in strictly ascending order", i, nr, prev)
		case !set.Has(int(nr)):
			return bad(at, "override %d: %s (%d) is not restricted by the bitmap", i, set.ABI().Name(int(nr)), nr)
		}
		o, err := decodeAction(bo.Uint32(desc[at+4:]))
		if err != nil {
			return bad(at+4, "override %d (%s): action %v", i, set.ABI().Name(int(nr)), err)
		}
		if o == def {
			return bad(at+4, "override %d (%s) repeats the default action %s (not canonical)", i, set.ABI().Name(int(nr)), def)
		}
		if a.Overrides == nil {
			a.Overrides = make(map[int]filter.Action, n)
		}
		a.Overrides[int(nr)] = o
		prev = int(nr)
	}
	return a, nil
}

// without returns a without the overrides of the syscalls in lift, which
// are no longer restricted (Options.Lift).
func (a Actions) without(lift bitmap.Set) Actions {
	var ov map[int]filter.Action
	for nr, o := range a.Overrides {
		if lift.Has(nr) {
			continue
		}
		if ov == nil {
			ov = map[int]filter.Action{}
		}
		ov[nr] = o
	}
	return Actions{Default: a.Default, Overrides: ov}
}
