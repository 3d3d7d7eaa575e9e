#!/bin/bash
# test_manpage.sh - the man page (dist/portcullis.8, installed by make
# install) keeps up with the CLI: every verb `portcullis help` lists is in
# its SYNOPSIS and has an entry under COMMANDS, and the policy example under
# POLICY compiles (`portcullis check`, no error). test_exporter.sh checks its
# METRICS list against a real scrape.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_init
[ -f "$LAB_ROOT/dist/portcullis.8" ] || fail "no dist/portcullis.8"

verbs=$("$PC_BIN" help 2>&1 | sed -n 's/^  portcullis \([a-z]*\).*/\1/p' | sort -u)
[ "$(wc -w <<<"$verbs")" -ge 10 ] || fail "portcullis help lists too few verbs: $verbs"
synopsis=$(lab_man_section SYNOPSIS)
commands=$(lab_man_section COMMANDS)
for v in $verbs; do
	grep -qx "\.B portcullis $v" <<<"$synopsis" || fail "man page SYNOPSIS lacks 'portcullis $v'"
	[ "$v" = help ] && continue	# help prints the synopsis: no entry of its own
	# an entry: ".TP" then ".B VERB" (or ".B VERB ...") on the next line,
	# or the verb in bold inside another's entry (unblock under block)
	grep -qE "^\.B $v( |\$)" <<<"$commands" || fail "man page COMMANDS has no entry for $v"
done
ok "every verb of portcullis help is in the man page: $(tr '\n' ' ' <<<"$verbs")"

# the POLICY example, between .nf and .fi
lab_man_example POLICY >"$LAB_TMP/man.policy"
[ "$(grep -c . "$LAB_TMP/man.policy")" -ge 10 ] || fail "no policy example found in the man page"
out=$("$PC_BIN" check "$LAB_TMP/man.policy" 2>&1) || fail "the man page's policy example does not compile: $out"
ok "the man page's policy example compiles ($(grep -c . "$LAB_TMP/man.policy") lines)"
