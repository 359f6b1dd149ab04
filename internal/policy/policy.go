package policy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// A Rule is one line of a policy file.
type Rule struct {
	Line int      // 1-based line number in the file
	Glob string   // relative to the root, '/'-separated
	Args []string // the options, split into words; nil for skip
	Skip bool     // the rule is "skip"
}

// A Policy is a parsed policy file.
type Policy struct {
	Name  string // the file it was read from, for messages
	Rules []Rule
}

// A SyntaxError is a line of a policy file that cannot be read.
type SyntaxError struct {
	Name string // the policy file
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg) }

// maxLine bounds a line, so that a hostile file cannot make the reader
// hold an unbounded token.
const maxLine = 64 << 10

// Read parses a policy file from r; name is used in messages.
func Read(r io.Reader, name string) (*Policy, error) {
	p := &Policy{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		words, err := split(sc.Text())
		if err != nil {
			return nil, &SyntaxError{name, n, err.Error()}
		}
		if len(words) == 0 {
			continue
		}
		r := Rule{Line: n, Glob: words[0]}
		if err := checkGlob(r.Glob); err != nil {
			return nil, &SyntaxError{name, n, err.Error()}
		}
		switch rest := words[1:]; {
		case len(rest) == 0:
			return nil, &SyntaxError{name, n, fmt.Sprintf("%s: no options: give the stamper's options, or skip", r.Glob)}
		case len(rest) == 1 && rest[0] == "skip":
			r.Skip = true
		case slicesContains(rest, "skip"):
			return nil, &SyntaxError{name, n, "skip stands alone on its line: a skipped file gets no options"}
		default:
			r.Args = rest
		}
		p.Rules = append(p.Rules, r)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: a line is longer than %d bytes", name, maxLine)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return p, nil
}

// ReadFile parses the named policy file.
func ReadFile(name string) (*Policy, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, name)
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// split splits a line into words as a POSIX shell would without
// expansions, dropping a '#' comment that starts a word.
func split(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c == '#' && !in:
			return words, nil
		case c == '\\':
			if i+1 == len(line) {
				return nil, errors.New("a backslash ends the line (continuation lines are not supported)")
			}
			i++
			w.WriteByte(line[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				w.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New("unterminated double quote")
			}
			in = true
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

// checkGlob refuses a glob that could not name a file under the root.
func checkGlob(g string) error {
	switch {
	case strings.HasPrefix(g, "/"):
		return fmt.Errorf("%s: a glob is relative to the root: drop the leading /", g)
	case strings.HasSuffix(g, "/"):
		return fmt.Errorf("%s: a glob names files, not directories (did you mean %s**?)", g, g)
	}
	for _, seg := range strings.Split(g, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%s: empty path element", g)
		case ".", "..":
			return fmt.Errorf("%s: %q is not allowed in a glob", g, seg)
		case "**":
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("%s: ** stands alone between slashes", g)
		}
		if _, err := path.Match(shellClass(seg), ""); err != nil {
			return fmt.Errorf("%s: bad pattern %q: %w", g, seg, err)
		}
	}
	return nil
}

// Match reports whether the '/'-separated relative path name matches glob
// (checked by Read): path.Match for each name, '**' for any number of
// directories.
func Match(glob, name string) bool {
	return match(strings.Split(glob, "/"), strings.Split(name, "/"))
}

func match(g, n []string) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			// Any number of directories, none included; at the end of
			// the glob, everything below (one name at least: "usr/**"
			// does not match a file named usr).
			if len(g) == 1 {
				return len(n) > 0
			}
			for k := 0; k <= len(n); k++ {
				if match(g[1:], n[k:]) {
					return true
				}
			}
			return false
		}
		if len(n) == 0 {
			return false
		}
		if ok, _ := path.Match(shellClass(g[0]), n[0]); !ok {
			return false
		}
		g, n = g[1:], n[1:]
	}
	return len(n) == 0
}

// shellClass turns a shell's negated class "[!...]" into path.Match's
// "[^...]".
func shellClass(seg string) string {
	return strings.ReplaceAll(seg, "[!", "[^")
}
