#!/usr/bin/env bats
# fmt.c, the printf subset our messages use, against the C library's
# snprintf: test/fmt-check.c, built next to $DAEMONIZE by each build.

bats_require_minimum_version 1.5.0
load helpers

@test "fmt prints what snprintf prints for the subset, at every buffer size, and the rest as written" {
	run -0 "$(testbin fmt-check)"
	[ -z "$output" ]
}
