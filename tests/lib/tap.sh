# tap.sh: TAP for the bash tests (sourced). ok STATUS NAME [DIAG] prints
# "ok N - NAME", or "not ok N - NAME" and DIAG as "# " lines when STATUS is
# not 0; $n counts the tests and $failed the failures, for the plan line
# and the exit status at the end.
n=0
failed=0
ok() { # ok STATUS NAME [DIAG]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
}
