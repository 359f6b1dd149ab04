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
