#!/bin/sh
# systemctl stand-in for 389-ds's dscreate on a machine without systemd (the lab puts it first in dscreate's PATH):
# start/stop/is-active of dirsrv@NAME run ns-slapd directly, in the caller's network namespace. start waits until the
# server answers on its LDAPI socket (the socket file exists before the server listens on it).
act=$1; [ "$act" = "is-active" ] && shift; unit=$(for a in "$@"; do case $a in dirsrv@*) echo ${a#dirsrv@};; esac; done)
pid=/run/dirsrv/slapd-$unit.pid
case $act in
  start) mkdir -p /run/dirsrv /run/lock/dirsrv/slapd-$unit; chown dirsrv:dirsrv /run/dirsrv /run/lock/dirsrv/slapd-$unit 2>/dev/null
         rm -f /run/slapd-$unit.socket; /usr/sbin/ns-slapd -D /etc/dirsrv/slapd-$unit -i $pid || exit 1
         for i in $(seq 1 600); do ldapsearch -x -H "ldapi://%2Frun%2Fslapd-$unit.socket" -b "" -s base >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1 ;;
  stop) [ -f $pid ] && kill $(cat $pid) 2>/dev/null; for i in $(seq 1 100); do [ -f $pid ] && kill -0 $(cat $pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 0 ;;
  is-active) [ -f $pid ] && kill -0 $(cat $pid) 2>/dev/null ;;
  *) exit 0 ;;
esac
