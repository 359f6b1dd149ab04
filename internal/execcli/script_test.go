package execcli

import (
	"strings"
	"testing"
)

// TestParseShebang checks the #! parser against what load_script
// (fs/binfmt_script.c) makes of each line: the interpreter, the one
// optional argument, and ENOEXEC.
func TestParseShebang(t *testing.T) {
	long := "#!/" + strings.Repeat("x", 300)
	for _, tt := range []struct {
		head, name, arg string
		hasArg, ok      bool
	}{
		{"#!/bin/sh\necho hi\n", "/bin/sh", "", false, true},
		{"#! /bin/sh -e\n", "/bin/sh", "-e", true, true},
		{"#!/usr/bin/env python3 -u\n", "/usr/bin/env", "python3 -u", true, true}, // one argument: the rest of the line
		{"#!/bin/sh \t \n", "/bin/sh", "", false, true},                           // trailing blanks trimmed
		{"#!\t/bin/sh\t-x\n", "/bin/sh", "-x", true, true},
		{"#!/bin/sh", "/bin/sh", "", false, true},         // no newline: the NUL padding ends it
		{"#!/bin/sh  ", "/bin/sh", "", true, true},        // no newline, trailing blanks: an empty argument, as the kernel makes
		{"#!/bin/sh\x00-x\n", "/bin/sh", "", false, true}, // a NUL ends the name; no argument
		{"#!\n", "", "", false, false},
		{"#!   \n", "", "", false, false},
		{"#!", "", "", false, true},  // an empty name: open_exec("") then fails with ENOENT
		{long, "", "", false, false}, // truncated by the 256-byte buffer
		{"#/bin/sh\n", "", "", false, false},
	} {
		name, arg, hasArg, ok := parseShebang([]byte(tt.head))
		if name != tt.name || arg != tt.arg || hasArg != tt.hasArg || ok != tt.ok {
			t.Errorf("parseShebang(%q) = %q, %q, %v, %v; want %q, %q, %v, %v", tt.head, name, arg, hasArg, ok, tt.name, tt.arg, tt.hasArg, tt.ok)
		}
	}
}

// FuzzParseShebang: no #! line makes the parser panic, and what it returns
// is what load_script could pass: a name without blanks or NUL, an
// argument without NUL that does not start with a blank.
func FuzzParseShebang(f *testing.F) {
	for _, s := range []string{"#!/bin/sh\n", "#! /usr/bin/env python3 -u\n", "#!/bin/sh  ", "#!", "#!\t\t\n", "#!/a\x00b c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		name, arg, hasArg, ok := parseShebang(head)
		if !ok {
			return
		}
		if strings.ContainsAny(name, " \t\x00") || len(name) >= binprmBufSize {
			t.Errorf("parseShebang(%q): name %q", head, name)
		}
		if hasArg && (strings.ContainsRune(arg, 0) || strings.HasPrefix(arg, " ") || strings.HasPrefix(arg, "\t")) {
			t.Errorf("parseShebang(%q): argument %q", head, arg)
		}
		if !hasArg && arg != "" {
			t.Errorf("parseShebang(%q): argument %q without hasArg", head, arg)
		}
	})
}
