# Launcher for the Redis TCL test suite (tests/test_helper.tcl) in external mode.
#
# Usage (cwd MUST be the folder holding the redis tests/ tree):
#     tclsh launcher.tcl --host H --port P --single unit/x ...
# i.e. exactly the arguments of ./runtest.
#
# It runs the unmodified tests/test_helper.tcl with one hook, applied after
# support/util.tcl is sourced (in the test server process AND in the spawned
# test client, which is re-spawned through this launcher): find_available_port
# is replaced so the harness's own control socket only uses loopback ports
# YARD_CTRL_PORT_MIN..YARD_CTRL_PORT_MAX (default 7290..7299) and never probes
# port+10000 (the stock proc does, for the cluster bus).  External mode spawns
# no redis-server, so nothing else listens.

set ::yard_launcher [file normalize [info script]]

proc yard_env {name default} {
    if {[info exists ::env($name)] && $::env($name) ne ""} { return $::env($name) }
    return $default
}

proc yard_after_util {} {
    set ::yard_ctrl_min [yard_env YARD_CTRL_PORT_MIN 7290]
    set ::yard_ctrl_max [yard_env YARD_CTRL_PORT_MAX 7299]
    proc ::find_available_port {start count} {
        for {set port $::yard_ctrl_min} {$port <= $::yard_ctrl_max} {incr port} {
            if {![catch {set fd [socket -server ::yard_noop -myaddr 127.0.0.1 $port]}]} {
                close $fd
                return $port
            }
        }
        error "yard launcher: no free control port in $::yard_ctrl_min-$::yard_ctrl_max"
    }
}
proc ::yard_noop {args} {}

rename source ::yard_orig_source
proc source {args} {
    set rc [catch {uplevel 1 [list ::yard_orig_source {*}$args]} res opts]
    set f [lindex $args end]
    if {$rc == 0} {
        if {[string match *support/util.tcl $f]} { yard_after_util }
    }
    return -options $opts $res
}

if {![file exists tests/test_helper.tcl]} {
    puts stderr "yard launcher: run me from the root of a redis source tree"
    exit 2
}
set __fd [open tests/test_helper.tcl r]
set __code [read $__fd]
close $__fd
# test_helper.tcl spawns its test clients with `exec tclsh [info script] ...`;
# make that point back to this launcher so the hooks apply to clients too.
info script $::yard_launcher
uplevel #0 $__code
