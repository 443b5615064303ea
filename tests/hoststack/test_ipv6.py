"""The namespace's Linux stack takes an IPv6 address from nicemu's router advertisement and pings it."""

import asyncio
import re


async def slaac_address(hoststack, timeout=15.0):
    """The global address Linux formed from nicemu's prefix, once duplicate address detection is done."""
    async with asyncio.timeout(timeout):
        while True:
            shown = await hoststack.run("ip", "-6", "addr", "show", "dev", "tap0", "scope", "global")
            found = re.search(r"inet6 (fd00::[0-9a-f:]+)/64 scope global(?! tentative)", shown.stdout)
            if found and "tentative" not in shown.stdout:
                return found[1]
            await asyncio.sleep(0.2)


async def test_hoststack__linux_forms_a_slaac_address_from_the_advertised_prefix_and_a_default_route(hoststack):
    await hoststack.run("sysctl", "-w", "net.ipv6.conf.tap0.accept_ra=2")
    address = await slaac_address(hoststack)
    assert address.startswith("fd00::")
    routes = await hoststack.run("ip", "-6", "route", "show", "default")
    assert "via fe80::5055:aff:fe00:202 dev tap0" in routes.stdout, routes.stdout
    assert hoststack.server.report()["tcpip"]["ndp.router_advertised"] >= 1


async def test_hoststack__ping6_reaches_the_gateway_by_its_global_and_link_local_addresses(hoststack):
    await hoststack.run("sysctl", "-w", "net.ipv6.conf.tap0.accept_ra=2")
    await slaac_address(hoststack)
    result = await hoststack.run("ping", "-6", "-c", "3", "-W", "2", "fd00::2")
    assert "3 packets transmitted, 3 received, 0% packet loss" in result.stdout, result.stdout + result.stderr
    result = await hoststack.run("ping", "-6", "-c", "2", "-W", "2", "fe80::5055:aff:fe00:202%tap0")
    assert "2 packets transmitted, 2 received, 0% packet loss" in result.stdout, result.stdout + result.stderr
    neighbours = await hoststack.run("ip", "-6", "neigh", "show", "fd00::2")
    assert "lladdr 52:55:0a:00:02:02" in neighbours.stdout
    assert hoststack.server.report()["tcpip"]["icmpv6.echo_replied"] == 5
