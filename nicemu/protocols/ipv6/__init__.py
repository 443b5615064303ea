"""IPv6 in the tcpip protocol driver: NDP, ICMPv6, and UDP's closed ports."""
