#ifndef CMIMALLOC_SHIM_H
#define CMIMALLOC_SHIM_H

/*
 * mimalloc (Debian's libmimalloc-dev), linked into the executable in place of glibc's
 * malloc: linking it is what makes every malloc and free of the process its own. The CLI
 * only sets its options (ConcurrencyLabCLI/Allocator.swift).
 */
#include <mimalloc.h>

#endif
