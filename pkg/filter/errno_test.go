package filter

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestErrnoNames checks the errno table against the kernel's own
// definitions in the host's headers (linux-libc-dev, which gcc's libc6-dev
// brings): every number the headers define has its name, and the table
// has no name the headers lack.
func TestErrnoNames(t *testing.T) {
	def := regexp.MustCompile(`(?m)^#define\s+(E[A-Z0-9]+)\s+(\w+)`)
	want := map[int]string{}
	aliases := map[string]string{}
	for _, f := range []string{"/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%v (the kernel's uapi headers: package linux-libc-dev)", err)
		}
		for _, m := range def.FindAllStringSubmatch(string(b), -1) {
			if n, err := strconv.Atoi(m[2]); err == nil {
				want[n] = m[1]
			} else {
				aliases[m[1]] = m[2]
			}
		}
	}
	if len(want) < 130 {
		t.Fatalf("read %d errnos from the headers, want about 133", len(want))
	}
	for n := range 4096 {
		if got := ErrnoName(n); got != want[n] {
			t.Errorf("ErrnoName(%d) = %q, want %q", n, got, want[n])
		}
	}
	for n, name := range want {
		if got, ok := ErrnoNumber(name); !ok || got != n {
			t.Errorf("ErrnoNumber(%q) = %d, %v; want %d", name, got, ok, n)
		}
	}
	for alias, of := range aliases {
		got, ok := ErrnoNumber(alias)
		if w, _ := ErrnoNumber(of); !ok || got != w {
			t.Errorf("ErrnoNumber(%q) = %d, %v; want %s's %d", alias, got, ok, of, w)
		}
	}
}

func TestParseAction(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Action
		name string
	}{
		{"kill", Kill(), "kill"},
		{"log", Log(), "log"},
		{"trap", Trap(), "trap"},
		{"errno", Errno(38), "errno=ENOSYS"},
		{"errno=EPERM", Errno(1), "errno=EPERM"},
		{"errno=eperm", Errno(1), "errno=EPERM"},
		{"errno=EWOULDBLOCK", Errno(11), "errno=EAGAIN"},
		{"errno=ENOTSUP", Errno(95), "errno=EOPNOTSUPP"},
		{"errno=13", Errno(13), "errno=EACCES"},
		{"errno=4095", Errno(4095), "errno=4095"},
	} {
		got, err := ParseAction(tt.in)
		if err != nil || got != tt.want || got.Name() != tt.name {
			t.Errorf("ParseAction(%q) = %v (%s), %v; want %v (%s)", tt.in, got, got.Name(), err, tt.want, tt.name)
		}
	}
	for _, tt := range []struct{ in, msg string }{
		{"errno=ENOSYSS", "did you mean ENOSYS?"},
		{"errno=EPRM", "did you mean EPERM"},
		{"errno=0", "not in 1..4095"},
		{"errno=4096", "not in 1..4095"},
		{"errno=-1", "not in 1..4095"},
		{"errno=", "unknown errno"},
		{"kil", "want kill, errno[=NAME], trap or log"},
		{"kill=1", "want kill"},
		{"", "want kill"},
	} {
		_, err := ParseAction(tt.in)
		if !errors.Is(err, ErrAction) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseAction(%q) = %v, want ErrAction saying %q", tt.in, err, tt.msg)
		}
	}
}
