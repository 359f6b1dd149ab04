package execcli

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

func TestParse(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		args []string
		want options
	}{
		{[]string{"prog"}, options{program: "prog", args: []string{}}},
		{[]string{"prog", "-v", "--deny", "x"}, options{program: "prog", args: []string{"-v", "--deny", "x"}}},
		{[]string{"-v", "--require", "prog", "a"}, options{verbose: true, require: true, program: "prog", args: []string{"a"}}},
		{[]string{"--deny", "execve", "--deny=ptrace,@debug", "prog"}, options{deny: []string{"execve", "ptrace,@debug"}, program: "prog", args: []string{}}},
		{[]string{"--action", "errno=EPERM", "prog"}, options{action: filter.Errno(1), actionGiven: true, program: "prog", args: []string{}}},
		{[]string{"--action=errno", "prog"}, options{action: filter.Errno(38), actionGiven: true, program: "prog", args: []string{}}},
		{[]string{"--action=errno=13", "prog"}, options{action: filter.Errno(13), actionGiven: true, program: "prog", args: []string{}}},
		{[]string{"--action", "log", "prog"}, options{action: filter.Log(), actionGiven: true, program: "prog", args: []string{}}},
		{[]string{"--action", "trap", "prog"}, options{action: filter.Trap(), actionGiven: true, program: "prog", args: []string{}}},
		{[]string{"--dump", "prog"}, options{dump: "text", program: "prog", args: []string{}}},
		{[]string{"--dump=raw", "prog"}, options{dump: "raw", program: "prog", args: []string{}}},
		{[]string{"--argv0", "sh", "--", "-prog", "-x"}, options{argv0: str("sh"), program: "-prog", args: []string{"-x"}}},
		{[]string{"--argv0=", "prog"}, options{argv0: str(""), program: "prog", args: []string{}}},
		{[]string{"--", "--help"}, options{program: "--help", args: []string{}}},
		{[]string{"-", "x"}, options{program: "-", args: []string{"x"}}},
		{[]string{"--learn", "out.json", "prog"}, options{learn: "out.json", program: "prog", args: []string{}}},
		{[]string{"--explain", "prog"}, options{explain: true, program: "prog", args: []string{}}},
		{[]string{"--audit", "a.json", "--deny", "ptrace", "prog"}, options{audit: "a.json", deny: []string{"ptrace"}, program: "prog", args: []string{}}},
		{[]string{"--audit=a.json", "--require", "-v", "prog"}, options{audit: "a.json", require: true, verbose: true, program: "prog", args: []string{}}},
		{[]string{"--help"}, options{help: true}},
		{[]string{"-h", "prog"}, options{help: true, program: "prog", args: []string{}}},
		{[]string{"--version"}, options{version: true}},
	}
	for _, tt := range tests {
		got, err := parse(tt.args)
		if err != nil {
			t.Errorf("parse(%q) = %v, want no error", tt.args, err)
			continue
		}
		if diff := cmp.Diff(&tt.want, got, cmp.AllowUnexported(options{}, filter.Action{})); diff != "" {
			t.Errorf("parse(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"-v"},
		{"--"},
		{"--bogus", "prog"},
		{"-x", "prog"},
		{"--deny"},
		{"--deny", "", "prog"},
		{"--action", "explode", "prog"},
		{"--action", "errno=ENOTANERRNO", "prog"},
		{"--action", "errno=0", "prog"},
		{"--action", "kill=9", "prog"},
		{"--dump=json", "prog"},
		{"--require=yes", "prog"},
		{"--learn", "", "prog"},
		{"--learn", "f", "--explain", "prog"},
		{"--learn", "f", "--deny", "ptrace", "prog"},
		{"--audit", "", "prog"},
		{"--audit"},
		{"--audit", "f", "--learn", "g", "prog"},
		{"--audit", "f", "--explain", "prog"},
		{"--audit", "f", "--action", "kill", "prog"},
		{"--action=log", "--audit", "f", "prog"},
		{"--audit", "f", "--dump", "prog"},
	}
	for _, args := range tests {
		got, err := parse(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parse(%q) = %+v, %v, want a usage error", args, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("--deny\x00execve\x00--action=errno=EPERM\x00--\x00prog")
	f.Fuzz(func(t *testing.T, s string) {
		var args []string
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == 0 {
				args = append(args, s[start:i])
				start = i + 1
			}
		}
		o, err := parse(args)
		if err == nil && !o.help && !o.version && o.program == "" {
			t.Errorf("parse(%q) accepted no PROGRAM", args)
		}
	})
}
