package supervise

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/enforce"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// envPolicy marks a supervised child that installs the loader's filter
// itself (Enforce) and carries its policy (encodePolicy). It is removed
// from the environment PROGRAM receives.
const envPolicy = "SYSRESTRICT_SUPERVISED_POLICY"

// Enforce runs PROGRAM, the file c.File, under the filter sysrestrict-exec
// installs for set: filter.Build with opts (its Action and StubCalls) and
// the exec gate. The supervised child installs it the way the loader does
// (enforce.Exec: no_new_privs, the Landlock domain, the filter, and the
// gated execveat of c.File, with nothing in between), so its own Go code
// never runs under it. The supervisor traces the child only until
// PROGRAM's exec: there it skips an embedded PROGRAM's start-up stub
// (c.Stub) and detaches. PROGRAM then runs untraced, as the supervisor's
// child, with that one filter, and Enforce returns its wait status.
//
// It is how sysrestrict-exec runs an embedded program with an --action
// other than kill (docs/embed.md): the stub's own filter would otherwise
// stack under the loader's, and its kill win over the loader's log,
// errno or trap.
func Enforce(ctx context.Context, c Config, set bitmap.Set, opts filter.Options) (unix.WaitStatus, error) {
	if c.File == nil {
		return 0, errors.New("Enforce runs only a file the caller opened (Config.File)")
	}
	policy, err := encodePolicy(set, opts)
	if err != nil {
		return 0, err
	}
	if _, err := buildPolicy(policy); err != nil {
		return 0, err
	}
	never := func(pid int, _ *tracee, _ syscallInfo) error {
		return fmt.Errorf("pid %d: a seccomp stop, but nothing traces syscalls", pid)
	}
	return run(ctx, c, setup{env: envPolicy + "=" + policy, detach: true}, never, nil)
}

// encodePolicy returns what the child needs to compile the filter:
// ABI;bitmap (hex);flags;action (as --action takes it);StubCalls. One
// action for every restricted syscall: Enforce runs --action, which
// replaces the note's actions for the run.
func encodePolicy(set bitmap.Set, opts filter.Options) (string, error) {
	if opts.Gate || opts.Sentinel || len(opts.Overrides) > 0 {
		return "", fmt.Errorf("%w: Enforce takes one action and no sentinel; its child compiles the exec gate itself", filter.ErrValue)
	}
	bm := set.Bitmap()
	stub := "0"
	if opts.StubCalls {
		stub = "1"
	}
	return strings.Join([]string{
		strconv.Itoa(int(set.ABI())), hex.EncodeToString(bm[:]),
		strconv.FormatUint(uint64(set.Flags()), 10), opts.Action.String(), stub,
	}, ";"), nil
}

// buildPolicy compiles the filter an encoded policy names, with the exec
// gate for this process's execveat, unrendered.
func buildPolicy(s string) (*filter.Program, error) {
	f := strings.Split(s, ";")
	if len(f) != 5 {
		return nil, fmt.Errorf("policy %q: %d fields, want 5", s, len(f))
	}
	abi, err1 := strconv.ParseUint(f[0], 10, 8)
	bm, err2 := hex.DecodeString(f[1])
	flags, err3 := strconv.ParseUint(f[2], 10, 32)
	act, err4 := filter.ParseAction(f[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil || (f[4] != "0" && f[4] != "1") {
		return nil, fmt.Errorf("policy %q: %v", s, err)
	}
	set, err := bitmap.FromNote(bitmap.ABI(abi), bm, uint32(flags))
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", s, err)
	}
	return filter.Build(set, filter.Options{Action: act, Gate: true, GateABI: enforce.NativeABI(), StubCalls: f[4] == "1"})
}

// enforceChild is Init's end in an Enforce child: it compiles the policy,
// renders the gate's secret and PROGRAM's descriptor into it, and
// installs it and executes PROGRAM as the loader does. It never returns.
func enforceChild(policy string, env []string, fail func(status int, format string, args ...any)) {
	p, err := buildPolicy(policy)
	if err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	secret, err := enforce.NewSecret()
	if err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	if err := p.Render(filter.Values{Secret: secret, Fd: fdProgram}); err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	name := "PROGRAM"
	if len(os.Args) > 0 {
		name = os.Args[0]
	}
	err = enforce.Exec(p, os.Args, env, "sysrestrict-exec: "+name+": exec under the filter failed, nothing was run")
	fail(exitSetup, "%s: cannot install the filter, nothing was run: %v", name, err)
}
