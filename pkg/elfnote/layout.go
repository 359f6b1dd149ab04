package elfnote

import (
	"fmt"
	"slices"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The layout engine (docs/stamping.md, "The layout engine"): a request
// lists what a stamp adds to a file; each strategy of strategy.go either
// finds room for the program header table and the payloads that go with
// it, or says there is none; payloads in segments of their own go after
// everything; one emitter writes the result as a Plan, the undo record in
// the note last.

// A request is what a stamp adds to a file.
type request struct {
	payloads []payload // payloads[notePayload] is the note
	progs    []addProg // program headers to add, besides the loaded payloads' PT_LOADs
	entry    *entryPatch
	embed    *embedSpec // the note records this payload as the start-up stub (embed.go)
	action   []byte     // the note's NT_SYSRESTRICT_ACTION descriptor; nil: none (every restricted syscall is killed)
}

// notePayload is the index of the note among a request's payloads: the
// emitter writes its bytes (the notes and the undo record) last.
const notePayload = 0

// A payload is bytes a stamp puts into the file.
type payload struct {
	size  uint64
	align uint64 // a power of two: of the file offset, and of the address if loaded
	// load: the payload is loaded in a PT_LOAD of its own, with flags,
	// after every other segment in the table and above every segment's
	// memory (.bss included), p_offset ≡ p_vaddr modulo align. Otherwise
	// it goes into the header block: right after the program header
	// table, in memory a PT_LOAD maps (the note, whose p_vaddr must hold
	// it).
	load  bool
	flags progFlag
	data  []byte // the bytes (nil: zeros); the note's are the emitter's
	// fill, if set, returns the bytes once the payload is placed (code
	// that jumps to the original entry point depends on its own address),
	// or why they cannot be made there.
	fill func(at placed) ([]byte, error)
}

// An addProg is a program header to add that describes a payload: the
// note's PT_NOTE.
type addProg struct {
	typ     progType
	flags   progFlag
	align   uint64
	payload int
}

// An entryPatch points e_entry off bytes into a payload.
type entryPatch struct {
	payload int
	off     uint64
}

// noteRequest is a stamp's request: the note, with the action
// descriptor act (nil: none), and its PT_NOTE.
func noteRequest(act []byte) *request {
	return &request{
		payloads: []payload{{align: 4}},
		progs:    []addProg{{typ: ptNote, flags: pfR, align: 4, payload: notePayload}},
		action:   act,
	}
}

// noteBase returns the size of the note's bytes before the undo record's
// header: the bitmap and flags notes, the NT_SYSRESTRICT_EMBED note of an
// embedded stamp, and the NT_SYSRESTRICT_ACTION note if there is one.
func (rq *request) noteBase() uint64 {
	n := noteSize + actionNoteSize(rq.action)
	if rq.embed != nil {
		n += embedNoteSz
	}
	return n
}

// added returns how many entries the program header table gains: one for
// each addProg (except one that takes a free PT_NULL entry: slot), one for
// each loaded payload's PT_LOAD, and newLoad for a PT_LOAD holding the
// table itself.
func (rq *request) added(slot, newLoad bool) uint64 {
	n := uint64(len(rq.progs))
	if slot && n > 0 {
		n--
	}
	for _, pl := range rq.payloads {
		if pl.load {
			n++
		}
	}
	if newLoad {
		n++
	}
	return n
}

// block returns the layout of the header block: its size, its alignment,
// and the offset in it of each payload that is not loaded.
func (rq *request) block() (size, align uint64, offs []uint64) {
	align = 1
	offs = make([]uint64, len(rq.payloads))
	for i, pl := range rq.payloads {
		if pl.load {
			continue
		}
		size = alignUp(size, pl.align)
		offs[i] = size
		size += pl.size
		align = max(align, pl.align)
	}
	return size, align, offs
}

// A fileLayout is where a strategy puts things.
type fileLayout struct {
	strategy Strategy
	phoff    uint64      // the program header table
	progs    []prog      // the existing program headers as they become (a PT_LOAD grown)
	slot     int         // index in progs of a PT_NULL entry the first addProg takes, or -1
	newLoad  *prog       // a new PT_LOAD for the table and the header block
	block    uint64      // file offset of the header block
	vaddr    uint64      // its address
	sects    *sectLayout // where the section names and headers go; nil without sections
	zero     []span      // file ranges to clear (what the strategy moved away)
	moves    []move      // original bytes the strategy moved (for the undo record)
	end      uint64      // the file ends at least here
	at       []placed    // where each payload went (the engine fills it in)
}

// placed is where a payload went.
type placed struct{ off, vaddr uint64 }

// planAdd plans req on a file without a note: the first strategy that
// finds room places the table and the header block, loaded payloads go
// after everything, and emit writes the plan. The note ends with the undo
// record, whose size depends on the layout it describes: the plan is made
// again with a larger record until the record fits.
func (im *image) planAdd(rq *request, set bitmap.Set, base undoBase) (*Plan, error) {
	if im.firstLoad() < 0 {
		return nil, fmt.Errorf("%w: no PT_LOAD segment", ErrUnsupported)
	}
	if len(im.progs) >= 0xfffe {
		return nil, fmt.Errorf("%w: too many program headers", ErrNoRoom)
	}
	sl, err := im.planSects()
	if err != nil {
		return nil, err
	}
	undo := uint64(undoHeadSize)
	for range 16 {
		rq.payloads[notePayload].size = rq.noteBase() + nhdrSize + uint64(len(ownerName)) + undo
		l, err := im.arrange(rq, sl)
		if err != nil {
			return nil, err
		}
		p, need, err := im.emit(rq, l, set, base, undo)
		if err != nil || p != nil {
			return p, err
		}
		undo = need
	}
	return nil, fmt.Errorf("internal error: the undo record's size does not settle")
}

// arrange returns the layout of the first strategy that finds room, with
// the loaded payloads placed after everything.
func (im *image) arrange(rq *request, sl *sectLayout) (*fileLayout, error) {
	for _, try := range strategies {
		l, err := try(im, rq, sl)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, im.placePayloads(rq, l)
		}
	}
	return nil, fmt.Errorf("%w: no strategy found room", ErrNoRoom)
}

// placePayloads places the header block's payloads where the strategy put
// the block, and each loaded payload after the end of the file and above
// the memory of every segment, aligned.
func (im *image) placePayloads(rq *request, l *fileLayout) error {
	size, _, offs := rq.block()
	l.at = make([]placed, len(rq.payloads))
	fileEnd := max(uint64(im.size), l.end, l.block+size)
	if l.sects != nil {
		fileEnd = max(fileEnd, l.sects.end)
	}
	var memEnd uint64
	for _, p := range append(slices.Clone(l.progs), l.newLoadOrNull()) {
		if p.Type == ptLoad {
			memEnd = max(memEnd, p.Vaddr+p.Memsz)
		}
	}
	space := uint64(1) << 32
	if im.class == ELFCLASS64 {
		space = 1 << 63
	}
	for i, pl := range rq.payloads {
		if !pl.load {
			l.at[i] = placed{l.block + offs[i], l.vaddr + offs[i]}
			continue
		}
		off, vaddr := alignUp(fileEnd, pl.align), alignUp(memEnd, pl.align)
		if off < fileEnd || vaddr < memEnd || off > space || pl.size > space-off || vaddr > space || pl.size > space-vaddr {
			return fmt.Errorf("%w: no address space left for a new segment", ErrNoRoom)
		}
		l.at[i] = placed{off, vaddr}
		fileEnd, memEnd = off+pl.size, vaddr+pl.size
	}
	return nil
}

func (l *fileLayout) newLoadOrNull() prog {
	if l.newLoad != nil {
		return *l.newLoad
	}
	return prog{}
}

// table returns the program header table of layout l: the existing
// entries, the new PT_LOADs after the last PT_LOAD (the table holds them
// in address order, and the kernel sizes the mapping from the first and
// the last), the first addProg in the free PT_NULL entry if there is
// one, the others last. When the table stays in place, it also returns
// the move of the entries the new PT_LOADs shift.
func (im *image) table(rq *request, l *fileLayout) ([]prog, []move) {
	progs := slices.Clone(l.progs)
	var loads []prog
	if l.newLoad != nil {
		loads = append(loads, *l.newLoad)
	}
	for i, pl := range rq.payloads {
		if pl.load {
			a := l.at[i]
			loads = append(loads, prog{Type: ptLoad, Flags: pl.flags, Off: a.off, Vaddr: a.vaddr, Paddr: a.vaddr, Filesz: pl.size, Memsz: pl.size, Align: pl.align})
		}
	}
	last := -1
	for i, p := range progs {
		if p.Type == ptLoad {
			last = i
		}
	}
	slot := l.slot
	var moves []move
	if len(loads) > 0 {
		progs = slices.Insert(progs, last+1, loads...)
		if slot > last {
			slot += len(loads)
		}
		if rest := len(l.progs) - (last + 1); l.phoff == im.phoff && rest > 0 {
			ent := uint64(im.phentsize)
			moves = append(moves, move{from: im.phoff + uint64(last+1)*ent, to: im.phoff + uint64(last+1+len(loads))*ent, n: uint64(rest) * ent})
		}
	}
	for j, ap := range rq.progs {
		a, size := l.at[ap.payload], rq.payloads[ap.payload].size
		p := prog{Type: ap.typ, Flags: ap.flags, Off: a.off, Vaddr: a.vaddr, Paddr: a.vaddr, Filesz: size, Memsz: size, Align: ap.align}
		if j == 0 && slot >= 0 {
			progs[slot] = p
		} else {
			progs = append(progs, p)
		}
	}
	return progs, moves
}

// emit writes layout l as a plan: what the strategy clears, the program
// header table (PT_PHDR describing it), the payloads, the ELF header
// fields, the sections, and last the note with an undo record of undo
// bytes. If the record needs more, emit returns no plan and the size it
// needs.
func (im *image) emit(rq *request, l *fileLayout, set bitmap.Set, base undoBase, undo uint64) (*Plan, uint64, error) {
	progs, moves := im.table(rq, l)
	if len(progs) >= 0xffff {
		return nil, 0, fmt.Errorf("%w: too many program headers", ErrNoRoom)
	}
	if n := len(progs) * im.phentsize; n > maxProgBytes {
		// The kernel would not load the result, nor Read read it.
		return nil, 0, fmt.Errorf("%w: %d program headers (%d bytes) would be more than the %d bytes of them any kernel loads", ErrNoRoom, len(progs), n, maxProgBytes)
	}
	p := &Plan{Strategy: l.strategy, Cut: im.size, Size: im.size, orig: im.size}
	p.Patches = append(p.Patches, base.pre...)
	size := max(uint64(im.size), l.end)
	for _, z := range l.zero {
		p.patch(z.off, make([]byte, z.end-z.off))
	}

	ent := uint64(im.phentsize)
	first := im.progs[im.firstLoad()]
	delta := first.Vaddr - first.Off
	tab := make([]byte, uint64(len(progs))*ent)
	for i, pr := range progs {
		if pr.Type == ptPhdr {
			if l.phoff != im.phoff {
				pr.Off = l.phoff
				v := l.phoff + delta
				if k := loadOfIn(progs, l.phoff, uint64(len(tab))); k >= 0 {
					v = l.phoff - progs[k].Off + progs[k].Vaddr
				}
				pr.Paddr += v - pr.Vaddr
				pr.Vaddr = v
			}
			pr.Filesz, pr.Memsz = uint64(len(tab)), uint64(len(tab))
		}
		im.encodeProg(tab[uint64(i)*ent:], pr)
	}
	p.patch(l.phoff, tab)
	size = max(size, l.phoff+uint64(len(tab)))
	if l.phoff != im.phoff {
		b := make([]byte, im.word)
		im.putWord(b, l.phoff)
		p.patch(uint64(im.offPhoff), b)
	}
	if len(progs) != len(im.progs) {
		p.patch(uint64(im.offPhnum), im.half(uint16(len(progs))))
	}
	for i, pl := range rq.payloads {
		data := pl.data
		if pl.fill != nil {
			var err error
			if data, err = pl.fill(l.at[i]); err != nil {
				return nil, 0, err
			}
		}
		if i != notePayload && data != nil {
			p.patch(l.at[i].off, data[:min(uint64(len(data)), pl.size)])
		}
		size = max(size, l.at[i].off+pl.size)
	}
	if e := rq.entry; e != nil {
		b := make([]byte, im.word)
		im.putWord(b, l.at[e.payload].vaddr+e.off)
		p.patch(uint64(im.offEntry), b)
	}
	note, noteLen := l.at[notePayload], rq.payloads[notePayload].size
	if l.sects != nil {
		im.emitSects(p, l.sects, note.off, note.vaddr, noteLen)
		size = max(size, l.sects.end)
		if l.sects.reuse == 0 {
			moves = append(moves, move{from: im.shoff, to: l.sects.shoff, n: uint64(len(im.sects) * im.shentsize)})
		}
	}
	p.Size = int64(size)

	rec, err := im.buildUndo(base, p, l.strategy, span{note.off, note.off + noteLen}, append(moves, l.moves...))
	if err != nil {
		return nil, 0, err
	}
	desc := rec.encode(im.bo)
	if need := uint64(len(desc)); need > undo {
		if need > maxUndo {
			return nil, 0, fmt.Errorf("%w: the undo record would need %d bytes", ErrNoRoom, need)
		}
		return nil, need, nil
	}
	desc = append(desc, make([]byte, undo-uint64(len(desc)))...)
	var embed []byte
	if es := rq.embed; es != nil {
		rec := es.record(l.at[es.payload], rq.payloads[es.payload].size)
		embed = rec.encode(im.bo)
		p.Embedded = true
	}
	p.patch(note.off, encodeNote(im.bo, set, embed, rq.action, desc))
	return p, 0, nil
}
