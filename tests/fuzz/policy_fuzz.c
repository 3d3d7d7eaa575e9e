// SPDX-License-Identifier: GPL-2.0
/*
 * tests/fuzz/policy_fuzz.c - libFuzzer entry for the policy parser and
 * compiler (`make fuzz-policy`). Every input is parsed; what parses is
 * compiled, source-prefix tries included. The build runs under ASan and
 * UBSan, so a read out of bounds, a leak or undefined behaviour on any
 * input, however mangled, ends the run with the input that caused it.
 * A policy that does not parse must come back as an error, never a crash.
 */
#include <stdint.h>
#include <string.h>

#include "loader/compile.h"
#include "loader/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pc_compiled *c = NULL;
	struct pc_policy p;
	struct pc_diag diag;

	memset(&diag, 0, sizeof(diag));
	if (pc_policy_parse("fuzz", (const char *)data, size, &p, &diag))
		return 0;
	if (!pc_compile(&p, &c, &diag))
		pc_compiled_free(c);
	pc_policy_free(&p);
	return 0;
}
