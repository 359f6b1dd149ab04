package filter

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden compares the disassembly of a few filters with
// testdata/NAME.golden; go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	beyond := func(s bitmap.Set) bitmap.Set { s.SetDenyBeyond(true); return s }
	const secret = 0x1122334455667788
	gate := Options{Gate: true, GateABI: bitmap.X86_64}
	gateVals := Values{Secret: secret, Fd: 3}
	tests := []struct {
		name string
		set  bitmap.Set
		opts Options
		vals Values
	}{
		{"x86_64-exec-gate", bitmap.NewSet(bitmap.X86_64, 59, 101, 322), gate, gateVals},
		{"x86_64-errno", bitmap.NewSet(bitmap.X86_64, 41, 42, 43, 49, 50), Options{Action: Errno(1)}, Values{}},
		{"x86_64-sentinel-trace", bitmap.NewSet(bitmap.X86_64, 101), Options{Action: Trace(1), Sentinel: true}, Values{Sentinel: 0x3ffffffe}},
		{"x32-exec-gate", bitmap.NewSet(bitmap.X32, 59, 101, 322), gate, gateVals},
		{"i386-exec-gate", bitmap.NewSet(bitmap.I386, 11, 26, 358), gate, gateVals},
		{"aarch64-beyond", beyond(bitmap.NewSet(bitmap.AARCH64, 117, 221, 281)), Options{}, Values{}},
		{"arm-empty", bitmap.NewSet(bitmap.ARM), Options{Action: Log()}, Values{}},
		{"x86_64-overrides", bitmap.NewSet(bitmap.X86_64, 56, 59, 101, 322, 435),
			Options{Gate: true, GateABI: bitmap.X86_64, Overrides: map[int]Action{435: Errno(38), 101: Errno(1), 322: Errno(1)}}, gateVals},
		{"x86_64-stub-calls", bitmap.NewSet(bitmap.X86_64, 101, 157, 317, 322), Options{Gate: true, GateABI: bitmap.X86_64, StubCalls: true}, gateVals},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := filterCase{tt.name, tt.set, tt.opts, tt.vals}.compile()
			if err != nil {
				t.Fatal(err)
			}
			got := "# " + tt.set.ABI().String() + " " + tt.set.String() + " action " + tt.opts.Action.String()
			for _, nr := range slices.Sorted(maps.Keys(tt.opts.Overrides)) {
				got += " " + tt.set.ABI().Name(nr) + ":" + tt.opts.Overrides[nr].String()
			}
			got += "\n" + f.String()
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("disassembly differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestBytes checks the sock_filter encoding: 8 little-endian bytes each.
func TestBytes(t *testing.T) {
	f, err := Build(bitmap.NewSet(bitmap.X86_64), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := f.Bytes()
	if len(b) != 8*f.Len() {
		t.Fatalf("len(Bytes()) = %d, want %d", len(b), 8*f.Len())
	}
	// ld [4]: code 0x0020, jt 0, jf 0, k 4.
	want := []byte{0x20, 0, 0, 0, 4, 0, 0, 0}
	if diff := cmp.Diff(want, b[:8]); diff != "" {
		t.Errorf("first record (-want +got):\n%s", diff)
	}
}

// TestLongJumps builds the worst case for the 8-bit jump offsets (every
// other number restricted: 512 runs) and checks it stays within the
// kernel's limit; TestModel checks its verdicts.
func TestLongJumps(t *testing.T) {
	s := bitmap.NewSet(bitmap.X86_64)
	for nr := 0; nr < bitmap.Size; nr += 2 {
		s.Add(nr)
	}
	f, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() > MaxInstructions {
		t.Errorf("Len() = %d, want <= %d", f.Len(), MaxInstructions)
	}
	for nr := range uint32(bitmap.Size) {
		want := uint32(SECCOMP_RET_ALLOW)
		if nr%2 == 0 {
			want = SECCOMP_RET_KILL_PROCESS
		}
		if got := Eval(f.prog, bitmap.AUDIT_ARCH_X86_64, nr, [6]uint64{}); got != want {
			t.Errorf("alternate set: nr %d = %s, want %s", nr, RetName(got), RetName(want))
		}
	}
	ja := 0
	for _, ins := range f.prog {
		if ins.Op == opJa {
			ja++
		}
	}
	if ja == 0 {
		t.Errorf("alternate set of %d instructions needs no ja: the long-jump path is not exercised", f.Len())
	}
	t.Logf("alternate set: %d instructions, %d ja", f.Len(), ja)
}

// TestOverrideSize measures what per-syscall actions cost on typical
// sets, and bounds it: an override is a run of its own at most, which
// splits the run it is in, so it adds at most two runs, 4 instructions
// (a jge and a ret for each), and neighbours with one action share a
// run. docs/filter.md quotes the figures logged here.
func TestOverrideSize(t *testing.T) {
	allowed, err := bitmap.ParseAllow(bitmap.X86_64,
		"read,write,openat,close,fstat,newfstatat,lseek,mmap,mprotect,munmap,brk,rt_sigaction,rt_sigprocmask,ioctl,pread64,pwrite64,readv,writev,"+
			"access,pipe2,dup,dup2,dup3,nanosleep,getpid,socket,connect,accept4,sendto,recvfrom,sendmsg,recvmsg,shutdown,bind,listen,"+
			"getsockname,getpeername,setsockopt,getsockopt,clone,execve,wait4,kill,uname,fcntl,flock,fsync,getcwd,chdir,rename,mkdir,"+
			"unlink,readlink,umask,gettimeofday,getuid,getgid,geteuid,getegid,epoll_wait,epoll_ctl,epoll_create1")
	if err != nil {
		t.Fatal(err)
	}
	allow := bitmap.Allowlist(allowed)
	deny, err := bitmap.Parse(bitmap.X86_64, "@debug,@mount,@exec,@module,@reboot,@swap,@raw-io,@clock,@cpu-emulation,@obsolete")
	if err != nil {
		t.Fatal(err)
	}
	named := func(s bitmap.Set, spec map[string]Action) map[int]Action {
		ov := map[int]Action{}
		for name, a := range spec {
			for _, nr := range s.ABI().Lookup(name) {
				if !s.Has(nr) {
					t.Fatalf("%s is not restricted", name)
				}
				ov[nr] = a
			}
		}
		return ov
	}
	tests := []struct {
		name string
		set  bitmap.Set
		ov   map[int]Action
	}{
		{"allowlist of 62", allow, nil},
		{"allowlist of 62, 3 overrides", allow, named(allow, map[string]Action{"clone3": Errno(38), "setitimer": Errno(1), "ftruncate": Errno(1)})},
		{"allowlist of 62, 3 overrides of one action next to each other", allow, named(allow, map[string]Action{"fork": Errno(38), "vfork": Errno(38), "clone3": Errno(38)})},
		{"deny list of systemd groups", deny, nil},
		{"deny list of systemd groups, 3 overrides", deny, named(deny, map[string]Action{"ptrace": Errno(1), "execve": Log(), "mount": Errno(1)})},
	}
	base := map[bool]int{}
	for _, tt := range tests {
		f, err := Build(tt.set, Options{Overrides: tt.ov})
		if err != nil {
			t.Fatal(err)
		}
		g, err := Build(tt.set, Options{Overrides: tt.ov, Gate: true, GateABI: bitmap.X86_64})
		if err != nil {
			t.Fatal(err)
		}
		isAllow := tt.set.DenyBeyond()
		if tt.ov == nil {
			base[isAllow] = f.Len()
		} else if added := f.Len() - base[isAllow]; added > 4*len(tt.ov) {
			t.Errorf("%s: %d overrides add %d instructions, want at most %d", tt.name, len(tt.ov), added, 4*len(tt.ov))
		}
		t.Logf("%s: %d restricted, %d instructions (%d with the exec gate)", tt.name, tt.set.Len(), f.Len(), g.Len())
	}
}
