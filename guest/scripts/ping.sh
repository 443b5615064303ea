#!/bin/sh
# Example nicemu test script: ping the gateway, then show what ARP learnt.
# Runs in the guest with $IFACE set to the configured interface; exits with
# ping's status, which the host reads from the NICEMU-RESULT line.
ping -c 5 -W 2 10.0.2.2
status=$?
echo "--- ARP ($IFACE)"
ip neigh show dev "$IFACE"
exit $status
