/*
 * hello.c: the C fixture program.
 *
 *   hello              prints "hello from NAME" and exits 0
 *   hello exit N       prints the same line and exits N
 *   hello notes        prints one line per ELF note found through the
 *                      program's own PT_NOTE headers, read from memory
 *                      (p_vaddr), as "note OWNER TYPE DESCSZ"
 *
 * NAME is set with -DNAME=\"...\" by the Makefile. The "notes" mode lets a
 * test check that a PT_NOTE added by a stamper points at memory that really
 * holds the note (glibc's ld.so reads notes the same way).
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NAME
#define NAME "hello"
#endif

#ifdef USE_LIB
extern const char *hello_lib(void);
#endif

static int print_notes(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	/* Only the main program: it is the first object reported. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		const unsigned char *end = p + ph->p_memsz;
		while (p + 12 <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			size_t nsz = (n->n_namesz + 3) & ~(size_t)3;
			size_t dsz = (n->n_descsz + 3) & ~(size_t)3;
			const char *owner = (const char *)(p + 12);
			printf("note %.*s %u %u\n", n->n_namesz ? (int)n->n_namesz - 1 : 0,
			       owner, (unsigned)n->n_type, (unsigned)n->n_descsz);
			p += 12 + nsz + dsz;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	printf("hello from %s\n", NAME);
#ifdef USE_LIB
	printf("%s\n", hello_lib());
#endif
	if (argc > 1 && strcmp(argv[1], "notes") == 0)
		dl_iterate_phdr(print_notes, NULL);
	if (argc > 2 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	return 0;
}
