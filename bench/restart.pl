#!/usr/bin/perl
# restart.pl: restart latency of supervisors, for bench/run.sh.
#
#	perl bench/restart.pl RUNS WARMUPS FIFO LABEL...
#
# Each LABEL names one running supervisor whose worker is bench/run.sh's
# worker script: it writes "LABEL PID" to the FIFO, and then execs sleep.
# The worker of each supervisor in turn, round after round (interleaved, so
# that drift in the machine's speed falls on all alike), is killed with
# SIGKILL; the latency runs from just before kill(2) to the moment the new
# worker's execve(2) succeeded.  That moment is the kernel's own
# CLOCK_MONOTONIC stamp on the exec event of the proc connector (netlink;
# root may always listen): nothing polls, and nothing of the worker's
# start-up after its exec is counted.  The same events give the phases:
# kill to the old worker's exit, its exit to the fork of the new one (the
# supervisor's reaction), and that fork to the exec.  Without the proc
# connector the end is the moment the FIFO line arrived, which adds the
# start of sh and one echo, and there are no phases.  After each restart
# the supervisors are left alone for 20 ms, so that every kill finds them
# idle.
#
# Prints one line per LABEL, in order: "median p90 samples method
# kill-exit exit-fork fork-exec" (method: exec or fifo), the times in ms
# (the phases as medians, "-" without the proc connector), or "n/a" for a
# supervisor whose worker did not come back.
use strict;
use warnings;
use Errno qw(EINTR ENOBUFS EAGAIN);
use Fcntl qw(O_RDWR);
use POSIX qw(ceil);
use Socket qw(SOCK_DGRAM SOL_SOCKET SO_RCVBUF MSG_DONTWAIT);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC sleep);

my ($runs, $warm, $path, @labels) = @ARGV;
die "usage: restart.pl RUNS WARMUPS FIFO LABEL...\n" unless @labels;

use constant {
	AF_NETLINK => 16,
	NETLINK_CONNECTOR => 11,
	CN_IDX_PROC => 1,
	CN_VAL_PROC => 1,
	PROC_CN_MCAST_LISTEN => 1,
	NLMSG_DONE => 3,
	PROC_EVENT_FORK => 0x1,
	PROC_EVENT_EXEC => 0x2,
	PROC_EVENT_EXIT => 0x80000000,
	SETTLE => 0.02,
	DEADLINE => 5,
};

# Opened for reading and writing: never at end of file, and the workers
# that were waiting for a reader go on.
sysopen(my $fifo, $path, O_RDWR) or die "restart.pl: $path: $!\n";
my $fd = fileno($fifo);
my $fifo_buf = '';

# The proc connector, or undef where it cannot be had.
sub connector {
	my $s;
	socket($s, AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR) or return;
	setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4 << 20);
	bind($s, pack('S S L L', AF_NETLINK, 0, 0, CN_IDX_PROC)) or return;
	# struct cn_msg (idx, val, seq, ack, len, flags) and the operation.
	my $cn = pack('L L L L S S L', CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0,
	    PROC_CN_MCAST_LISTEN);
	send($s, pack('L S S L L', 16 + length($cn), NLMSG_DONE, 0, 0, $$) . $cn,
	    0) or return;
	# Where we may not listen, subscribing fails without a word: check
	# that the exec of a child of ours is seen.
	my $pid = fork() // return;
	if ($pid == 0) {
		exec('/bin/true') or POSIX::_exit(127);
	}
	waitpid($pid, 0);
	my %ev = (exec => {}, fork => {}, exit => {});
	my $until = clock_gettime(CLOCK_MONOTONIC) + 1;
	while (!exists $ev{exec}{$pid}) {
		my $left = $until - clock_gettime(CLOCK_MONOTONIC);
		return if $left <= 0;
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, $left) > 0;
		drain($s, \%ev, 0);
	}
	return $s;
}

# Reads every queued event; records in $ev, by process (not thread), the
# stamp in seconds of the first exec, of its fork and of its exit, those
# from before $since left out.
sub drain {
	my ($s, $ev, $since) = @_;
	for (;;) {
		my $buf;
		unless (defined recv($s, $buf, 65536, MSG_DONTWAIT)) {
			next if $! == EINTR || $! == ENOBUFS;
			return if $! == EAGAIN;
			die "restart.pl: recv: $!\n";
		}
		# struct nlmsghdr (16 bytes), struct cn_msg (20), struct
		# proc_event: what, cpu, timestamp_ns, then the event's data.
		next if length($buf) < 36 + 32;
		my ($what, undef, $ns, @d) =
		    unpack('L L Q L L L L', substr($buf, 36));
		my $t = $ns / 1e9;
		next if $t < $since;
		if ($what == PROC_EVENT_EXEC && $d[0] == $d[1]) {
			$ev->{exec}{$d[1]} //= $t;
		} elsif ($what == PROC_EVENT_FORK && $d[2] == $d[3]) {
			$ev->{fork}{$d[3]} //= $t;
		} elsif ($what == PROC_EVENT_EXIT && $d[0] == $d[1]) {
			$ev->{exit}{$d[1]} //= $t;
		}
	}
}

# The next "LABEL PID" line from the FIFO, waiting until $until at most:
# (label, pid, arrival), or an empty list.
sub next_line {
	my ($until) = @_;
	for (;;) {
		if ($fifo_buf =~ s/\A([^\n]*)\n//) {
			my ($label, $pid) = split(' ', $1);
			return ($label, $pid, clock_gettime(CLOCK_MONOTONIC));
		}
		my $left = $until - clock_gettime(CLOCK_MONOTONIC);
		return if $left <= 0;
		my $rin = '';
		vec($rin, $fd, 1) = 1;
		next unless select(my $rout = $rin, undef, undef, $left) > 0;
		my $n = sysread($fifo, $fifo_buf, 4096, length($fifo_buf));
		die "restart.pl: read: $!\n" unless defined $n || $! == EINTR;
	}
}

sub median {
	my @t = sort { $a <=> $b } @_;
	return @t ? $t[@t / 2] : undef;
}

my $conn = connector();
my $method = $conn ? 'exec' : 'fifo';
my (%worker, %times, %phases);

# The first worker of each supervisor.
my $until = clock_gettime(CLOCK_MONOTONIC) + DEADLINE;
while (grep { !exists $worker{$_} } @labels) {
	my ($label, $pid) = next_line($until) or last;
	$worker{$label} = $pid;
}

for my $round (-$warm .. $runs - 1) {
	for my $label (@labels) {
		next unless defined $worker{$label};
		sleep(SETTLE);
		my %ev = (exec => {}, fork => {}, exit => {});
		drain($conn, \%ev, 0) if $conn;
		%ev = (exec => {}, fork => {}, exit => {});
		my $old = $worker{$label};
		my $t0 = clock_gettime(CLOCK_MONOTONIC);
		kill('KILL', $old);
		my ($l, $pid, $arrival);
		my $until = $t0 + DEADLINE;
		while (($l, $pid, $arrival) = next_line($until)) {
			last if $l eq $label && $pid != $old;
		}
		unless (defined $pid) {
			warn "restart.pl: $label: no new worker within "
			    . DEADLINE . " s\n";
			delete $worker{$label};
			next;
		}
		$worker{$label} = $pid;
		next if $round < 0;
		my $t1 = $arrival;
		if ($conn) {
			drain($conn, \%ev, $t0);
			$t1 = $ev{exec}{$pid};
			unless (defined $t1) {
				warn "restart.pl: $label: exec of $pid not seen\n";
				next;
			}
			my ($exit, $fork) = ($ev{exit}{$old}, $ev{fork}{$pid});
			if (defined $exit && defined $fork) {
				push(@{$phases{$label}[0]}, ($exit - $t0) * 1e3);
				push(@{$phases{$label}[1]}, ($fork - $exit) * 1e3);
				push(@{$phases{$label}[2]}, ($t1 - $fork) * 1e3);
			}
		}
		push(@{$times{$label}}, ($t1 - $t0) * 1e3);
	}
}

for my $label (@labels) {
	my @t = sort { $a <=> $b } @{$times{$label} // []};
	if (@t < $runs / 2 || !defined $worker{$label}) {
		print "n/a\n";
		next;
	}
	my @p = map { median(@{$phases{$label}[$_] // []}) } 0 .. 2;
	printf("%.3f %.3f %d %s %s\n", $t[@t / 2], $t[ceil(0.9 * @t) - 1],
	    scalar(@t), $method,
	    join(' ', map { defined $_ ? sprintf('%.3f', $_) : '-' } @p));
}
