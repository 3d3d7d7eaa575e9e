// SPDX-License-Identifier: GPL-2.0
/* handmade.c - tries for hand-made compiled policies (handmade.h). */
#include <stdlib.h>
#include "handmade.h"
#include "../../loader/trie.h"

int tk_build_tries(struct pc_compiled *c)
{
	free(c->nodes);
	free(c->roots);
	c->nodes = NULL;
	c->roots = NULL;
	c->n_nodes = 0;
	return pc_trie_build(c->prefixes, c->n_prefixes, c->n_classes,
			     PC_PREFIX_NODES, &c->nodes, &c->n_nodes, &c->roots);
}
