package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/version"
)

// TestPagesAreCurrent fails when a committed page (man/*.1) is not what
// the commands' --help renders to now: run make generate.
func TestPagesAreCurrent(t *testing.T) {
	pages, err := Pages()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		name := filepath.Join("..", "..", "..", "man", p.File())
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		if string(got) != p.Roff() {
			t.Errorf("%s is not what %s --help renders to: run make generate", name, p.Name)
		}
	}
}

// roffText undoes what Roff does to text: drops the request lines (a
// .SH's title is a heading, not --help text) and the font and character
// escapes.
func roffText(roff string) string {
	var w strings.Builder
	fonts := regexp.MustCompile(`\\f[BIRP]`)
	for _, l := range strings.Split(roff, "\n") {
		if strings.HasPrefix(l, ".") {
			continue
		}
		l = fonts.ReplaceAllString(l, "")
		l = strings.NewReplacer(`\-`, "-", `\e`, `\`, `\&`, "").Replace(l)
		w.WriteString(l + "\n")
	}
	return w.String()
}

// TestPagesKeepEveryWord checks that rendering loses nothing: every word
// of a command's --help, but for the headings that become .SH lines and
// the version in .TH, is
// in its page as often as in --help.
func TestPagesKeepEveryWord(t *testing.T) {
	pages, err := Pages()
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{"NAME:": true, "USAGE:": true, "VERSION:": true, "DESCRIPTION:": true,
		"GLOBAL": true, "OPTIONS:": true, "Options:": true, "usage:": true, "Examples:": true, "Exit": true, "status:": true,
		version.Version: true} // in .TH
	for _, p := range pages {
		have := map[string]int{}
		for _, w := range strings.Fields(roffText(p.Roff())) {
			have[w]++
		}
		want := map[string]int{}
		for _, w := range strings.Fields(p.Help) {
			if !headings[w] {
				want[w]++
			}
		}
		for w, n := range want {
			// The supervisor's page names itself where the help
			// names sysrestrict-exec, once, in the synopsis.
			if p.Name == "sysrestrict-supervise" && w == "sysrestrict-exec" {
				n--
			}
			if have[w] < n {
				t.Errorf("%s: %q is %d times in --help, %d times in the page", p.File(), w, n, have[w])
			}
		}
	}
}

// TestPagesRender runs groff over each page with every warning on: a
// page man(1) would show badly fails.
func TestPagesRender(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("groff is needed: %v", err)
		}
		t.Skipf("groff not installed: %v", err)
	}
	pages, err := Pages()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		cmd := exec.Command(groff, "-man", "-ww", "-z")
		cmd.Stdin = strings.NewReader(p.Roff())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("groff -man -ww %s: %v\n%s", p.File(), err, stderr.String())
		}
	}
}

// TestEscape checks that text cannot inject roff requests or escapes.
func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a\b`, `a\eb`},
		{`--deny`, `\-\-deny`},
		{`.so /etc/passwd`, `\&.so /etc/passwd`},
		{`'br`, `\&'br`},
		{`\fBbold`, `\efBbold`},
	} {
		if got := line(esc(tc.in)); got != tc.want {
			t.Errorf("line(esc(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseErrors checks that a help the parser does not understand is an
// error, not a page with a part missing.
func TestParseErrors(t *testing.T) {
	if _, err := parseCLI("x", "NAME:\n   y - z\n\nUSAGE:\n   x\n"); err == nil {
		t.Error("parseCLI accepted a NAME of another command")
	}
	if _, err := parseCLI("x", "NAME:\n   x - z\n\nUSAGE:\n   x\n\nSURPRISE:\n   q\n"); err == nil {
		t.Error("parseCLI accepted an unknown heading")
	}
	if _, err := parseUsage("x", "x [options]\n\nText.\n"); err == nil {
		t.Error("parseUsage accepted a help without a usage line")
	}
}
