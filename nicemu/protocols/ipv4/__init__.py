"""IPv4 machinery below the protocol driver: reassembly, fragmentation, ICMP errors."""
