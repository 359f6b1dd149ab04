package filter

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// data is one seccomp_data the tests feed a filter.
type data struct {
	arch, nr uint32
	args     [6]uint64
}

// AUDIT_ARCH_S390X: an arch none of our filters is for.
const auditArchS390X = 0x80000016

// model is the verdict SPEC section 3 asks for, written from the text and
// not from Build: the reference the compiled filters are checked against.
func model(set bitmap.Set, opts Options, v Values, d data) uint32 {
	act := opts.Action.Ret()

	// The exec gate exists when it is asked for and the loader's own
	// execveat would otherwise not be allowed.
	var gate bool
	var gateNr, gateArch uint32
	if opts.Gate {
		gateNr = uint32(opts.GateABI.Lookup("execveat")[0]) | opts.GateABI.NrBase()
		gateArch = opts.GateABI.AuditArch()
		ungated := opts
		ungated.Gate = false
		gate = model(set, ungated, v, data{arch: gateArch, nr: gateNr}) != SECCOMP_RET_ALLOW
	}
	// The gate turns the loader's execveat into ALLOW; any other try at
	// it gets what it would get without the gate.
	gateCheck := func() uint32 {
		if uint32(d.args[0]) == uint32(v.Fd) && uint32(d.args[4]) == AT_EMPTY_PATH && d.args[5] == v.Secret {
			return SECCOMP_RET_ALLOW
		}
		ungated := opts
		ungated.Gate = false
		return model(set, ungated, v, d)
	}

	abi := set.ABI()
	if d.arch != abi.AuditArch() {
		if gate && d.arch == gateArch && d.nr == gateNr {
			return gateCheck()
		}
		return act // 1. foreign arch
	}
	nr := d.nr
	if opts.Sentinel && nr == v.Sentinel {
		return SECCOMP_RET_KILL_PROCESS
	}
	if gate && d.arch == gateArch && nr == gateNr {
		return gateCheck()
	}
	// The start-up stub's two calls, with exactly its arguments, whatever
	// the set says of their numbers.
	if opts.StubCalls {
		switch {
		case abi == bitmap.X86_64 && nr == 157, abi == bitmap.AARCH64 && nr == 167: // prctl
			if d.args[0] == PR_SET_NO_NEW_PRIVS && d.args[1] == 1 {
				return SECCOMP_RET_ALLOW
			}
		case abi == bitmap.X86_64 && nr == 317, abi == bitmap.AARCH64 && nr == 277: // seccomp
			if d.args[0] == SECCOMP_SET_MODE_FILTER && d.args[1] == SECCOMP_FILTER_FLAG_TSYNC {
				return SECCOMP_RET_ALLOW
			}
		}
	}
	switch abi {
	case bitmap.X86_64:
		if nr >= 0x40000000 {
			return act // 2. x32 bit
		}
	case bitmap.X32:
		if nr&bitmap.X32SyscallBit == 0 {
			return act // an x86_64 syscall from an x32 program
		}
		nr &^= bitmap.X32SyscallBit
	}
	if nr >= 512 {
		if set.DenyBeyond() {
			return act // 3.
		}
		return SECCOMP_RET_ALLOW
	}
	if set.Has(int(nr)) {
		if a, ok := opts.Overrides[int(nr)]; ok {
			return a.Ret() // 4., this number's own action
		}
		return act // 4.
	}
	return SECCOMP_RET_ALLOW
}

// encode returns d as the packet golang.org/x/net/bpf's VM reads. The VM
// loads 32-bit words big-endian, while the kernel loads seccomp_data words
// in the task's (little-endian) order. A 32-bit load sees the same value in
// both when each 32-bit field, and each half of a 64-bit argument at its
// little-endian place (low half first), is stored big-endian.
func encode(d data) []byte {
	b := make([]byte, dataLen)
	binary.BigEndian.PutUint32(b[offNr:], d.nr)
	binary.BigEndian.PutUint32(b[offArch:], d.arch)
	for i, a := range d.args {
		binary.BigEndian.PutUint32(b[offArgLo(i):], uint32(a))
		binary.BigEndian.PutUint32(b[offArgHi(i):], uint32(a>>32))
	}
	return b
}

type filterCase struct {
	name string
	set  bitmap.Set
	opts Options
	vals Values
}

// compile builds c's program and renders its values.
func (c filterCase) compile() (*Program, error) {
	p, err := Build(c.set, c.opts)
	if err != nil {
		return nil, err
	}
	if err := p.Render(c.vals); err != nil {
		return nil, err
	}
	return p, nil
}

// namedSet is a set of the reference-model test.
type namedSet struct {
	name string
	set  bitmap.Set
}

// edgeSets returns the sets every ABI is tested with, in a fixed order:
// edge cases, then random ones drawn from r, each without and with
// DENY_BEYOND.
func edgeSets(abi bitmap.ABI, r *rand.Rand) []namedSet {
	sets := []namedSet{{"empty", bitmap.NewSet(abi)}}
	full := bitmap.NewSet(abi)
	for nr := range bitmap.Size {
		full.Add(nr)
	}
	sets = append(sets, namedSet{"full", full})
	for _, nr := range []int{0, 31, 32, 63, 511} {
		sets = append(sets, namedSet{fmt.Sprint("bit", nr), bitmap.NewSet(abi, nr)})
	}
	exec := bitmap.NewSet(abi)
	for _, nr := range append(abi.Lookup("execve"), abi.Lookup("execveat")...) {
		if nr < bitmap.Size {
			exec.Add(nr)
		}
	}
	sets = append(sets, namedSet{"exec", exec})
	for i := range 4 {
		s := bitmap.NewSet(abi)
		density := r.IntN(100)
		for nr := range bitmap.Size {
			if r.IntN(100) < density {
				s.Add(nr)
			}
		}
		sets = append(sets, namedSet{fmt.Sprint("random", i), s})
	}
	var out []namedSet
	for _, ns := range sets {
		out = append(out, ns)
		ns.set.SetDenyBeyond(true)
		out = append(out, namedSet{ns.name + "+beyond", ns.set})
	}
	return out
}

var seedFlag = flag.Uint64("seed", 0, "seed of the reference-model test's random sets and gate values (0: $"+seedEnv+", or a fresh one; the tests log it)")

const seedEnv = "SYSRESTRICT_TEST_SEED"

// seed is the random tests' seed: -seed, else $SYSRESTRICT_TEST_SEED,
// else a fresh one. It is one per test binary; every test that uses it
// logs it.
var seed = sync.OnceValue(func() uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s, err := strconv.ParseUint(os.Getenv(seedEnv), 0, 64); err == nil && s != 0 {
		return s
	}
	return rand.Uint64() | 1
})

var actions = []Action{Kill(), Errno(38), Trap(), Log(), Trace(7), UserNotif()}

// cases returns the filters of the reference-model test, in a fixed order,
// their random parts drawn from seed (logged on t).
func cases(t testing.TB) []filterCase {
	t.Helper()
	t.Logf("random sets and gate values from seed %d (rerun with -seed=%d, or %s=%d)", seed(), seed(), seedEnv, seed())
	r := rand.New(rand.NewPCG(seed(), 0x5eed))
	var cs []filterCase
	i := 0
	for _, abi := range bitmap.ABIs {
		for _, ns := range edgeSets(abi, r) {
			name, set := ns.name, ns.set
			i++
			act := actions[i%len(actions)]
			cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v", abi, name, act), set, Options{Action: act, GateABI: bitmap.X86_64}, Values{}})
			gated := Options{Action: act, Gate: true, GateABI: bitmap.X86_64}
			vals := Values{Secret: r.Uint64() | 1<<63 | 1, Fd: 3 + r.IntN(5)}
			if i%3 == 0 {
				gated.Sentinel = true
				vals.Sentinel = 0x3fffffff
				if abi == bitmap.X32 {
					vals.Sentinel |= bitmap.X32SyscallBit
				}
			}
			cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/gate", abi, name, act), set, gated, vals})
			ov := overrides(abi, set, act, r)
			if ov != nil {
				o := Options{Action: act, GateABI: bitmap.X86_64, Overrides: ov}
				cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/overrides", abi, name, act), set, o, Values{}})
				o.Gate = true
				cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/overrides/gate", abi, name, act), set, o, vals})
			}
			if abi == bitmap.X86_64 || abi == bitmap.AARCH64 {
				stub := Options{Action: act, GateABI: bitmap.X86_64, StubCalls: true}
				cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/stub", abi, name, act), set, stub, Values{}})
				stub.Gate = true
				cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/gate+stub", abi, name, act), set, stub, vals})
				if ov != nil {
					stub.Overrides = ov
					cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/overrides/gate+stub", abi, name, act), set, stub, vals})
				}
				// Overrides on the stub's own numbers: any other call of
				// them gets the override.
				own := map[int]Action{}
				for _, nr := range []uint32{stubNrs[abi].prctl, stubNrs[abi].seccomp} {
					if set.Has(int(nr)) {
						own[int(nr)] = actions[(i+int(nr))%len(actions)]
					}
				}
				if len(own) > 0 {
					stub.Overrides = own
					cs = append(cs, filterCase{fmt.Sprintf("%v/%s/%v/stub-overrides/gate+stub", abi, name, act), set, stub, vals})
				}
			}
		}
	}
	return cs
}

// overrides returns per-syscall actions for some of set's numbers, drawn
// from r: up to 6 of them, the edges 0 and 511 and every ABI's execveat
// (the gate's failing paths) when restricted, and one equal to the
// default def; nil for an empty set.
func overrides(abi bitmap.ABI, set bitmap.Set, def Action, r *rand.Rand) map[int]Action {
	in := set.Numbers()
	if len(in) == 0 {
		return nil
	}
	pick := []int{0, 511}
	for _, a := range bitmap.ABIs {
		if nr, ok := execveatNr(a); ok {
			pick = append(pick, int(nr&^bitmap.X32SyscallBit))
		}
	}
	for range 6 {
		pick = append(pick, in[r.IntN(len(in))])
	}
	ov := map[int]Action{}
	for i, nr := range pick {
		if nr >= bitmap.Size || !set.Has(nr) {
			continue
		}
		a := actions[r.IntN(len(actions))]
		if i == len(pick)-1 {
			a = def
		}
		if e := r.IntN(3); a.kind == kindErrno && e > 0 {
			a = Errno(e) // several errnos: each its own leaf
		}
		ov[nr] = a
	}
	return ov
}

// inputs returns the seccomp_data every filter is run on.
func inputs(c filterCase) []data {
	arches := []uint32{auditArchS390X, 0}
	for _, abi := range bitmap.ABIs {
		arches = append(arches, abi.AuditArch())
	}
	var nrs []uint32
	for nr := range uint32(1024) {
		nrs = append(nrs, nr, nr|bitmap.X32SyscallBit)
	}
	nrs = append(nrs, 0xffffffff, 0x7fffffff, 0x80000000, 0x3fffffff, 0xbfffffff, 0x40000000|0xf0005)
	if c.opts.Sentinel {
		nrs = append(nrs, c.vals.Sentinel)
	}
	// On an arch that is neither the filter's nor the gate's the verdict
	// does not depend on nr: a sample of numbers is enough there.
	var sample []uint32
	for i, nr := range nrs {
		if i%37 == 0 || i >= 2048 {
			sample = append(sample, nr)
		}
	}
	var ds []data
	seen := map[uint32]bool{}
	var distinct []uint32 // arches, each once, in order
	for _, arch := range arches {
		if seen[arch] {
			continue
		}
		seen[arch] = true
		distinct = append(distinct, arch)
		these := nrs
		if arch != c.set.ABI().AuditArch() && arch != c.opts.GateABI.AuditArch() {
			these = sample
		}
		for _, nr := range these {
			ds = append(ds, data{arch: arch, nr: nr})
		}
	}
	// The gate: right and wrong arguments, on every arch, for execve and
	// execveat of the gate's ABI.
	secret, fd := c.vals.Secret, uint64(c.vals.Fd)
	right := [6]uint64{fd, 0, 0, 0, AT_EMPTY_PATH, secret}
	wrongs := [][6]uint64{right,
		{fd + 1, 0, 0, 0, AT_EMPTY_PATH, secret},
		{fd | 1<<32, 0, 0, 0, AT_EMPTY_PATH, secret}, // the kernel reads an int: still fd
		{fd, 0, 0, 0, 0, secret},
		{fd, 0, 0, 0, AT_EMPTY_PATH | 0x100, secret},
		{fd, 0, 0, 0, AT_EMPTY_PATH, secret ^ 1},
		{fd, 0, 0, 0, AT_EMPTY_PATH, secret ^ 1<<40},
		{fd, 0, 0, 0, AT_EMPTY_PATH, 0},
		{fd, 0, 0, 0, AT_EMPTY_PATH, secret >> 32},
		{fd, 0, 0, secret, AT_EMPTY_PATH, 0},
	}
	for _, arch := range distinct {
		for _, nr := range []uint32{59, 322, 520 | bitmap.X32SyscallBit, 545 | bitmap.X32SyscallBit, 11, 358, 221, 281, 387} {
			for _, args := range wrongs {
				ds = append(ds, data{arch: arch, nr: nr, args: args})
			}
		}
		// The stub's calls: right and wrong arguments, for prctl and
		// seccomp of x86_64 and aarch64 (and those numbers' x32 and
		// other-ABI aliases), on every arch.
		for _, nr := range []uint32{157, 317, 167, 277, 157 | bitmap.X32SyscallBit, 317 | bitmap.X32SyscallBit} {
			for _, args := range stubArgs {
				ds = append(ds, data{arch: arch, nr: nr, args: args})
			}
		}
	}
	return ds
}

// stubArgs are the arguments the model test gives prctl and seccomp: the
// stub's own, each half of each wrong, and the calls that would loosen
// (SECCOMP_FILTER_FLAG_SPEC_ALLOW, _NEW_LISTENER, _LOG) or read instead of
// set.
var stubArgs = [][6]uint64{
	{PR_SET_NO_NEW_PRIVS, 1},             // prctl's, seccomp: wrong op
	{PR_SET_NO_NEW_PRIVS, 1, 7, 7, 7, 7}, // the kernel refuses args 3-5; the filter does not look
	{PR_SET_NO_NEW_PRIVS | 1<<32, 1},     // the kernel reads an int; the filter wants it all
	{PR_SET_NO_NEW_PRIVS, 1 | 1<<32},
	{PR_SET_NO_NEW_PRIVS, 0},
	{PR_SET_NO_NEW_PRIVS, 2},
	{39, 0}, // PR_GET_NO_NEW_PRIVS
	{22, 2}, // PR_SET_SECCOMP, SECCOMP_MODE_FILTER
	{4, 1},  // PR_SET_DUMPABLE
	{SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, 0x7fff0000}, // the stub's seccomp
	{SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | 1<<32},
	{SECCOMP_SET_MODE_FILTER | 1<<32, SECCOMP_FILTER_FLAG_TSYNC},
	{SECCOMP_SET_MODE_FILTER, 0},
	{SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | 4}, // | SPEC_ALLOW
	{SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | 8}, // | NEW_LISTENER
	{SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | 2}, // | LOG
	{SECCOMP_SET_MODE_FILTER, 4},
	{0, SECCOMP_FILTER_FLAG_TSYNC}, // SECCOMP_SET_MODE_STRICT
	{2, 0},                         // SECCOMP_GET_ACTION_AVAIL
	{3, 0},                         // SECCOMP_GET_NOTIF_SIZES
	{1 << 32, 1},
	{},
}

// TestModel runs every filter of cases in golang.org/x/net/bpf's VM on
// every input and compares the verdict with model's (gVisor's TestRandom).
func TestModel(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := c.compile()
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			insns, allDecoded := bpf.Disassemble(f.Instructions())
			if !allDecoded {
				t.Fatalf("Build emitted an instruction x/net/bpf cannot decode:\n%v", f)
			}
			vm, err := bpf.NewVM(insns)
			if err != nil {
				t.Fatalf("NewVM: %v\n%v", err, f)
			}
			fails := 0
			for _, d := range inputs(c) {
				got, err := vm.Run(encode(d))
				if err != nil {
					t.Fatalf("VM.Run(%+v): %v", d, err)
				}
				want := model(c.set, c.opts, c.vals, d)
				if uint32(got) != want {
					t.Errorf("filter(arch %#x, nr %#x, args %x) = %#x (%s), want %#x (%s)", d.arch, d.nr, d.args, uint32(got), RetName(uint32(got)), want, RetName(want))
					if fails++; fails > 10 {
						t.Fatalf("too many failures; filter:\n%v", f)
					}
				}
				if ev := Eval(f.prog, d.arch, d.nr, d.args); ev != want {
					t.Errorf("Eval(arch %#x, nr %#x) = %#x, want %#x", d.arch, d.nr, ev, want)
				}
			}
		})
	}
}

func beyondSet(s bitmap.Set) bitmap.Set { s.SetDenyBeyond(true); return s }

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		set  bitmap.Set
		opts Options
		want error
	}{
		{"unknown ABI", bitmap.NewSet(bitmap.Unknown, 1), Options{}, ErrABI},
		{"errno 0", bitmap.NewSet(bitmap.X86_64, 1), Options{Action: Errno(0)}, ErrAction},
		{"errno 4096", bitmap.NewSet(bitmap.X86_64, 1), Options{Action: Errno(4096)}, ErrAction},
		{"errno -1", bitmap.NewSet(bitmap.X86_64, 1), Options{Action: Errno(-1)}, ErrAction},
		{"gate ABI without execveat", bitmap.NewSet(bitmap.X86_64, 1), Options{Gate: true, GateABI: bitmap.ABI(200)}, ErrABI},
		{"gate without its ABI", bitmap.NewSet(bitmap.X86_64, 1), Options{Gate: true}, ErrGateABI},
		{"gate without its ABI, execveat allowed", bitmap.NewSet(bitmap.X86_64), Options{Gate: true}, ErrGateABI},
		{"override of an allowed syscall", bitmap.NewSet(bitmap.X86_64, 1), Options{Overrides: map[int]Action{2: Errno(1)}}, ErrOverride},
		{"override beyond 511", beyondSet(bitmap.NewSet(bitmap.X86_64, 1)), Options{Overrides: map[int]Action{512: Errno(1)}}, ErrOverride},
		{"override of -1", bitmap.NewSet(bitmap.X86_64, 1), Options{Overrides: map[int]Action{-1: Errno(1)}}, ErrOverride},
		{"override errno 0", bitmap.NewSet(bitmap.X86_64, 1), Options{Overrides: map[int]Action{1: Errno(0)}}, ErrAction},
	}
	for _, tt := range tests {
		if f, err := Build(tt.set, tt.opts); !errors.Is(err, tt.want) {
			t.Errorf("%s: Build(%v, %+v) = %v, %v; want %v", tt.name, tt.set, tt.opts, f, err, tt.want)
		}
	}
}
