package profile

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestTruncatedOffset cuts a real profile at every byte and reads what is
// left: each cut that is not still a whole profile is a *FormatError at
// the offset where the input ends, with its line and column. (Before,
// every one of them said "at byte 0": encoding/json's Decoder had not
// consumed anything when it found the end.)
func TestTruncatedOffset(t *testing.T) {
	data, err := os.ReadFile("testdata/sh-ls-wc.profile.json")
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for n := range len(data) {
		cut := data[:n]
		_, err := Read(bytes.NewReader(cut))
		if err == nil {
			// Only the profile without its final newline is whole.
			if n != len(data)-1 {
				t.Errorf("Read(first %d of %d bytes) = nil error", n, len(data))
			}
			whole++
			continue
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("Read(first %d bytes) = %T %v, want *FormatError", n, err, err)
		}
		line := 1 + bytes.Count(cut, []byte("\n"))
		col := len(cut) - bytes.LastIndexByte(cut, '\n')
		if fe.Offset != int64(n) || fe.Line != line || fe.Column != col {
			t.Fatalf("Read(first %d bytes) = %q (offset %d, line %d, column %d), want offset %d, line %d, column %d",
				n, err, fe.Offset, fe.Line, fe.Column, n, line, col)
		}
	}
	if whole != 1 {
		t.Errorf("%d cuts read as whole profiles, want 1", whole)
	}
}

// TestErrorPositions: the message of each malformed profile, exactly, with
// the offset, line and column of the problem.
func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "malformed profile at byte 0 (line 1, column 1): empty: no profile object"},
		{"blank", "  \n ", "malformed profile at byte 4 (line 2, column 2): empty: no profile object"},
		{"cut in a string", "{\n  \"version\": 1,\n  \"syscalls\": [\n    {\"abi\": \"x86", "malformed profile at byte 50 (line 4, column 17): unexpected end of input: the profile stops in the middle (the file is cut short)"},
		{"unknown top-level field", "{\"version\": 1,\n \"bogus\": 2}", "malformed profile at byte 16 (line 2, column 2): bogus: unknown field"},
		{"unknown field in an entry", "{\"version\": 1, \"syscalls\": [\n {\"abi\": \"x86_64\", \"nr\": 0, \"name\": \"read\"},\n {\"abi\": \"x86_64\", \"nr\": 1, \"name\": \"write\", \"argv\": []}]}",
			"malformed profile at byte 119 (line 3, column 46): syscalls[1].argv: unknown field"},
		{"unknown field in an executable", "{\"version\": 2, \"executables\": [\n {\"path\": \"/x\", \"size\": 1, \"calls\": []}]}",
			"malformed profile at byte 59 (line 2, column 28): executables[0].calls: unknown field"},
		{"unknown field in a v2 syscall", "{\"version\": 2, \"executables\": [{\"path\": \"/x\", \"syscalls\": [{\"abi\": \"x86_64\", \"nr\": 0, \"name\": \"read\", \"pid\": 1}]}]}",
			"malformed profile at byte 102 (line 1, column 103): executables[0].syscalls[0].pid: unknown field"},
		{"size not a number", "{\"version\": 2, \"executables\": [{\"path\": \"/x\", \"size\": \"big\"}]}",
			"malformed profile at byte 59 (line 1, column 60): executables.size: got string, want an integer"},
		{"unknown field in a run", "{\"version\": 1, \"runs\": [{\"time\": \"2026-11-23T13:00:00Z\", \"nr\": 3}]}",
			"malformed profile at byte 57 (line 1, column 58): runs[0].nr: unknown field"},
		{"type", "{\"version\": 1,\n\"syscalls\": 5}", "malformed profile at byte 28 (line 2, column 14): syscalls: got number, want an array"},
		{"negative count", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"read","count":-3}]}`,
			"malformed profile at byte 72 (line 1, column 73): syscalls.count: got number -3, want an integer, 0 or more"},
		{"syntax", "{\"version\": 1,\n \"syscalls\": [}", "malformed profile at byte 29 (line 2, column 15): invalid character '}' looking for beginning of value"},
		{"trailing data", "{\"version\": 1}\n{}", "malformed profile at byte 15 (line 2, column 1): data after the profile object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Read(%q) = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestUnknownFieldFollowsTypes: the walk that finds an unknown key takes
// the field names from the format's own types, so a field the format has
// anywhere is never reported, and json's case-insensitive match is kept.
func TestUnknownFieldFollowsTypes(t *testing.T) {
	var b bytes.Buffer
	if err := sample().Write(&b); err != nil {
		t.Fatal(err)
	}
	if _, _, found := unknownField(b.Bytes(), typeOfProfile); found {
		t.Errorf("unknownField(a profile Write wrote) found a key")
	}
	upper := bytes.Replace(b.Bytes(), []byte(`"version"`), []byte(`"VERSION"`), 1)
	if _, err := Read(bytes.NewReader(upper)); err != nil {
		t.Errorf("Read with \"VERSION\" = %v, want it read as encoding/json matches keys", err)
	}
}
