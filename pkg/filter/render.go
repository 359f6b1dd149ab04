package filter

import (
	"fmt"
	"math"
)

// Values are what only the process that installs a program knows, at run
// time: the exec gate's secret and descriptor (the loader) and the
// sentinel (the --explain supervisor). Build compiles a placeholder for
// each value its Options ask for; Render writes the values in.
type Values struct {
	// Secret is the gate's secret, compared with execveat's sixth argument
	// register: 64 random bits, never 0 (Options.Gate).
	Secret uint64

	// Fd is the descriptor the gate's execveat must name (Options.Gate).
	Fd int

	// Sentinel is the raw syscall number, of the set's ABI, that gets
	// SECCOMP_RET_KILL_PROCESS (Options.Sentinel). Neither 0 nor the
	// gate's execveat.
	Sentinel uint32
}

// Render writes v into p's placeholders, in place: the instruction words
// Build left for the values p's Options ask for (values it does not ask
// for are ignored). Nothing else changes: the program's length, jumps and
// every other word are what Build made, whatever the values, so a program
// compiled ahead of time (at stamp time) needs only these words written
// at run time. Render may be called again with other values.
//
// It fails with ErrValue, and changes nothing, on a zero secret, a
// descriptor outside 0..math.MaxInt32, or a sentinel that is 0 or the
// gate's execveat (which would kill the loader's own exec).
func (p *Program) Render(v Values) error {
	if err := p.check(v); err != nil {
		return err
	}
	p.put(slotFd, uint32(v.Fd))
	p.put(slotSecretLo, uint32(v.Secret))
	p.put(slotSecretHi, uint32(v.Secret>>32))
	p.put(slotSentinel, v.Sentinel)
	p.secret, p.fd, p.sentinel, p.rendered = v.Secret, int32(v.Fd), v.Sentinel, true
	return nil
}

func (p *Program) check(v Values) error {
	if p.opts.Gate {
		if v.Secret == 0 {
			return fmt.Errorf("%w: exec gate secret 0", ErrValue)
		}
		if v.Fd < 0 || v.Fd > math.MaxInt32 {
			return fmt.Errorf("%w: exec gate descriptor %d", ErrValue, v.Fd)
		}
	}
	if p.opts.Sentinel {
		if v.Sentinel == 0 {
			return fmt.Errorf("%w: sentinel 0", ErrValue)
		}
		if nr, ok := execveatNr(p.opts.GateABI); p.opts.Gate && ok && p.opts.GateABI.AuditArch() == p.set.ABI().AuditArch() && v.Sentinel == nr {
			return fmt.Errorf("%w: sentinel %#x is the exec gate's execveat", ErrValue, v.Sentinel)
		}
	}
	return nil
}

// put writes k into placeholder s's instruction, if the program holds it.
func (p *Program) put(s placeholder, k uint32) {
	if pc := p.slots.at[s-1]; pc != noSlot {
		p.prog[pc].K = k
	}
}

// Rendered reports whether p is ready to install: it has no placeholders,
// or Render has filled them in.
func (p *Program) Rendered() bool {
	return p.rendered || !p.opts.Gate && !p.opts.Sentinel
}

// Values returns the values Render last wrote into p (zero before).
func (p *Program) Values() Values {
	if !p.rendered {
		return Values{}
	}
	return Values{Secret: p.secret, Fd: int(p.fd), Sentinel: p.sentinel}
}
