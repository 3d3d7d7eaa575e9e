/* SPDX-License-Identifier: GPL-2.0 */
/*
 * handmade.h - compiled policies put together by hand (tests that do not
 * want to depend on the policy compiler). pc_compile builds a policy's
 * tries itself; a hand-made struct pc_compiled has only its LPM entries
 * (prefixes, n_prefixes, n_classes), and pc_publish refuses classes
 * without tries: this builds them, as pc_compile would.
 */
#ifndef PC_TEST_HANDMADE_H
#define PC_TEST_HANDMADE_H

#include "../../loader/compile.h"

/* (Re)build c->nodes, c->n_nodes and c->roots from c's LPM entries,
 * freeing any built before (call again after changing the entries).
 * Returns pc_trie_build's 0 or -errno; on an error c has no tries. */
int tk_build_tries(struct pc_compiled *c);

#endif
